"""A COCO data set whose boxes come from several readers.

``MultiAnnotatorCocoDataset`` is mmdet's ``CocoDataset`` reading a
multi-reader COCO file through :func:`mmmulti.io.load_multi_reader_coco`
(validation with errors that name the file and the record, geometric drops
counted and logged). Each instance keeps its ``reader``; with ``fusion=`` the
readers' boxes are fused once at load time (cached on disk, by
:class:`~mmmulti.datasets.fused_annotations.FusedAnnotations`) and the instances
are the fused boxes with their ``confidence`` (EARL weight) and
``agreement``. Clean single-truth COCO files (test sets) load with
confidence 1 and agreement 1.
"""
import colorsys
import re
import os.path as osp
import time

from typing import List, Optional, Sequence, Union

import numpy as np
from mmdet.datasets import CocoDataset
from mmengine.fileio import get_local_path
from mmengine.logging import MMLogger

from mmmulti.fusion.base import BaseFusion
from mmmulti.fusion.summary import AgreementHistogram
from mmmulti.registry import DATASETS

from .fused_annotations import FusedAnnotations
from .image_cache import CACHED_IMAGE_KEY, DecodedImageCache
from .transforms.class_shares import CLASS_SPLIT_KEY


def _natural(text: str) -> list:
    """Sort key that puts R8 before R10."""
    return [int(t) if t.isdigit() else t for t in re.split(r'(\d+)', text)]


def _palette(n: int) -> List[tuple]:
    """n distinct RGB colours (the file's categories have none)."""
    return [tuple(int(255 * c) for c in colorsys.hsv_to_rgb(i / max(n, 1), 0.75, 0.95))
            for i in range(n)]


@DATASETS.register_module()
class MultiAnnotatorCocoDataset(CocoDataset):
    """mmdet's ``CocoDataset`` for multi-reader COCO files.

    Args:
        reader_key (str): annotation key of the reader id. Default 'reader'.
        readers (list[str], optional): keep only these readers' boxes (e.g.
            ``['R8', 'R9', 'R10']``, or one reader for a single-reader model).
            Each image's reader count R is then that of the kept readers, and
            images none of them read are skipped (they are unlabelled for
            these readers, not negatives).
        fusion (dict | BaseFusion, optional): a ``FUSION_METHODS`` config
            (e.g. ``dict(type='WBF', iou_thr=0.4)``) applied once, at load
            time, over the whole data set (``fuse_dataset``; data-set-level
            methods such as ``ReliabilityWBF`` work here). None keeps every
            reader's box (confidence and agreement as in the file, else 1).
        fusion_cache (bool): cache the fused result on disk. Default True.
        cache_dir (str, optional): where; default
            ``$MMMULTI_CACHE_DIR`` or ``~/.cache/mmmulti/fusion``.
        strict_geometry (bool): raise on a geometrically bad box instead of
            dropping and counting it.
        **kwargs: everything ``CocoDataset`` takes (``ann_file``,
            ``data_prefix``, ``metainfo`` (``classes``; default: the file's
            categories), ``filter_cfg``, ``pipeline``, ``test_mode``, ...).

    Every instance of ``data_info['instances']`` carries mmdet's ``bbox``,
    ``bbox_label``, ``ignore_flag`` plus ``reader`` (str; '' for fused
    boxes), ``confidence`` (float) and ``agreement`` (int);
    ``data_info['image_readers']`` lists the readers of the image.

    ``filter_cfg=dict(filter_empty_gt=True)`` keeps mmdet's meaning: an image
    without any box left (after the reader restriction and fusion) is
    filtered out of training; an image whose readers all drew nothing has
    no fused box and is filtered too.

    An *unread* image (its ``readers`` list is empty, or no selected reader
    read it) is never loaded, whatever ``filter_cfg`` says: nobody looked
    at it, so training it as background would teach the detector that its
    findings are not there. Unread images are counted in :meth:`summary`.
    A set left with no image at all is an error naming the file.
    """

    METAINFO: dict = dict()  # classes come from the file unless given

    def __init__(self,
                 *args,
                 reader_key: str = 'reader',
                 readers: Optional[Sequence[str]] = None,
                 fusion: Optional[Union[dict, BaseFusion]] = None,
                 fusion_cache: bool = True,
                 cache_dir: Optional[str] = None,
                 strict_geometry: bool = False,
                 cache_images: bool = False,
                 **kwargs) -> None:
        self.annotations = FusedAnnotations(reader_key=reader_key, readers=readers,
                                            fusion=fusion, cache=fusion_cache,
                                            cache_dir=cache_dir,
                                            strict_geometry=strict_geometry)
        self.load_seconds: float = 0.0
        self.stats: dict = {}
        self.cache_images = cache_images
        self.image_cache: Optional[DecodedImageCache] = None
        super().__init__(*args, **kwargs)

    # the loading settings and where the last load came from (see FusedAnnotations)
    @property
    def readers(self) -> Optional[List[str]]:
        return self.annotations.readers

    @property
    def fusion_method(self) -> Optional[BaseFusion]:
        return self.annotations.method

    @property
    def cache_file(self) -> Optional[str]:
        return self.annotations.cache_file

    @property
    def cache_hit(self) -> Optional[bool]:
        return self.annotations.cache_hit

    # -- loading ----------------------------------------------------------------
    def load_data_list(self) -> List[dict]:
        t0 = time.perf_counter()
        with get_local_path(self.ann_file,
                            backend_args=self.backend_args) as local_path:
            entry = self.annotations.load(local_path, self.ann_file)
        data_list = self._build_data_list(entry)
        self.load_seconds = time.perf_counter() - t0
        MMLogger.get_current_instance().info(self.summary())
        if not data_list:
            # mmengine would fail later with numpy's "need at least one array
            # to concatenate"; say which file and why instead
            s = self.stats
            why = ''
            if s['images_unread']:
                why = (f': {s["images_unread"]} of its {s["images_in_file"]} images are '
                       + (f'read by none of readers {self.readers}' if self.readers
                          else 'unread (empty readers list)'))
            raise ValueError(f'{self.ann_file}: 0 images to load{why}')
        return data_list

    def _set_classes(self, categories: List[dict]) -> None:
        names = [c['name'] for c in categories]
        classes = self._metainfo.get('classes')
        if classes is None:
            self._metainfo['classes'] = tuple(names)
            self._metainfo['palette'] = _palette(len(names))
            classes = names
        else:
            unknown = [c for c in classes if c not in names]
            if unknown:
                raise ValueError(f'{self.ann_file}: classes {unknown} are not '
                                 f'among the file\'s categories {names}')
            if not self._metainfo.get('palette'):
                self._metainfo['palette'] = _palette(len(classes))
        # label order = file order of the selected categories, exactly as
        # mmdet's COCO api (and so CocoMetric) orders them
        self.cat_ids = [c['id'] for c in categories if c['name'] in classes]
        self.cat2label = {cid: i for i, cid in enumerate(self.cat_ids)}

    def _build_data_list(self, entry: dict) -> List[dict]:
        meta = entry['meta']
        self._set_classes(meta['categories'])
        file_cat_ids = meta['cat_ids']
        label_map = np.array([self.cat2label.get(cid, -1) for cid in file_cat_ids]
                             + [-1], dtype=np.int64)
        readers_per_image = entry.get('readers')
        fused = self.fusion_method is not None
        # SoftWBF & co write one row per class voted (transforms/class_shares.py)
        class_split = bool(getattr(self.fusion_method, 'splits_classes', False)
                           or meta.get('class_split', False))
        hist = AgreementHistogram()
        skipped_images = not_in_classes = too_small = 0
        readers_seen = set()
        data_list = []
        cat_img_map = {cid: [] for cid in self.cat_ids}
        for i, img in enumerate(meta['images']):
            image_readers = list(img['readers'])
            if not image_readers:
                # unread (or read by none of the selected readers): not a negative
                skipped_images += 1
                continue
            readers_seen.update(image_readers)
            boxes = np.asarray(entry['boxes'][i], dtype=np.float64).reshape(-1, 4)
            labels = label_map[np.asarray(entry['labels'][i], dtype=np.int64)]
            scores = np.asarray(entry['scores'][i], dtype=np.float32)
            agreements = np.asarray(entry['agreements'][i], dtype=np.int64)
            readers = (np.full(len(boxes), '', dtype=object) if fused
                       or readers_per_image is None else readers_per_image[i])
            keep_cls = labels >= 0
            # mmdet's CocoDataset drops boxes under 1 px the same way
            wh = boxes[:, 2:] - boxes[:, :2]
            keep_size = (wh[:, 0] >= 1) & (wh[:, 1] >= 1)
            not_in_classes += int((~keep_cls).sum())
            too_small += int((keep_cls & ~keep_size).sum())
            keep = keep_cls & keep_size
            R = len(image_readers)
            idx = np.nonzero(keep)[0]
            k_labels = labels[idx].tolist()
            k_agree = agreements[idx].tolist()
            instances = [
                dict(bbox=b, bbox_label=lab, ignore_flag=0, reader=str(r),
                     confidence=c, agreement=a)
                for b, lab, r, c, a in zip(boxes[idx].tolist(), k_labels,
                                           np.asarray(readers)[idx].tolist(),
                                           scores[idx].tolist(), k_agree)]
            hist.add(R, k_agree, scores[idx].tolist())
            for cl in set(k_labels):
                cat_img_map[self.cat_ids[cl]].append(img['id'])
            data_info = dict(
                img_path=osp.join(self.data_prefix.get('img', ''),
                                  img['file_name']),
                img_id=img['id'], seg_map_path=None,
                height=img['height'], width=img['width'],
                image_readers=image_readers, instances=instances)
            if class_split:
                data_info[CLASS_SPLIT_KEY] = True
            if self.data_prefix.get('seg', None):
                data_info['seg_map_path'] = osp.join(
                    self.data_prefix['seg'],
                    img['file_name'].rsplit('.', 1)[0] + self.seg_map_suffix)
            if self.return_classes:
                data_info['text'] = self.metainfo['classes']
                data_info['caption_prompt'] = self.caption_prompt
                data_info['custom_entities'] = True
            data_list.append(data_info)
        self.cat_img_map = cat_img_map
        self.stats = dict(
            source=meta['source'], kind=meta['kind'],
            images_in_file=len(meta['images']), images=len(data_list),
            images_unread=skipped_images,
            images_skipped_no_selected_reader=skipped_images,
            readers=sorted(readers_seen, key=_natural), boxes_in=meta['boxes_in'],
            boxes_out=hist.total(), agreement_hist=hist,
            drops=meta['drops'], drops_text=meta['drops_text'],
            not_in_classes=not_in_classes, smaller_than_1px=too_small,
            fusion=meta['fusion'], fusion_seconds=meta['fusion_seconds'])
        return data_list

    @property
    def metainfo(self) -> dict:
        """As mmengine's, but loads the file first when the classes come
        from it and ``lazy_init=True`` deferred the loading."""
        if 'classes' not in self._metainfo and not self._fully_initialized:
            self.full_init()
        return super().metainfo

    # -- filtering ----------------------------------------------------------------
    def filter_data(self) -> List[dict]:
        """mmdet's ``filter_empty_gt`` / ``min_size`` on the loaded boxes."""
        if self.test_mode or self.filter_cfg is None:
            return self.data_list
        filter_empty_gt = self.filter_cfg.get('filter_empty_gt', False)
        min_size = self.filter_cfg.get('min_size', 0)
        kept = [d for d in self.data_list
                if (not filter_empty_gt or len(d['instances']) > 0)
                and min(d['width'], d['height']) >= min_size]
        self.stats['images_filtered'] = len(self.data_list) - len(kept)
        if self.data_list and not kept:
            raise ValueError(
                f'{self.ann_file}: 0 images left after filter_cfg={dict(self.filter_cfg)} '
                f'(filter_empty_gt removes images without a box, min_size smaller '
                f'images; {len(self.data_list)} images before filtering)')
        return kept

    def full_init(self) -> None:
        if self._fully_initialized:
            return
        super().full_init()
        logger = MMLogger.get_current_instance()
        if self.stats.get('images_filtered'):
            logger.info(f'{type(self).__name__}: filter_cfg={self.filter_cfg} removed '
                        f'{self.stats["images_filtered"]} images; {len(self)} left')
        if self.cache_images:
            t0 = time.perf_counter()
            self.image_cache = DecodedImageCache(
                [self.get_data_info(i)['img_path'] for i in range(len(self))],
                backend_args=self.backend_args)
            logger.info(f'{type(self).__name__}: {len(self.image_cache)} images decoded into '
                        f'memory ({self.image_cache.nbytes / 2**20:.0f} MiB, '
                        f'{time.perf_counter() - t0:.1f} s)')

    def get_data_info(self, idx: int) -> dict:
        """mmengine's data info, plus the decoded image when ``cache_images``."""
        info = super().get_data_info(idx)
        if self.image_cache is not None:
            info[CACHED_IMAGE_KEY] = self.image_cache[idx]
        return info

    # -- reporting ----------------------------------------------------------------
    def summary(self, width: int = 30) -> str:
        """Images, readers, boxes in and out, agreement histogram, drops."""
        s = self.stats
        if not s:
            return f'{type(self).__name__} (not loaded yet)'
        readers = s['readers']
        lines = [f'{type(self).__name__}: {s["source"]} ({s["kind"]})',
                 f'  images        : {s["images"]} of {s["images_in_file"]}'
                 + ((f' ({s["images_unread"]} read by none of readers '
                     f'{self.readers}, skipped)' if self.readers else
                     f' ({s["images_unread"]} unread: empty readers list, dropped, '
                     f'not trained as negatives)')
                    if s['images_unread'] else ''),
                 f'  readers       : {len(readers)} '
                 f'({", ".join(readers[:10])}{", ..." if len(readers) > 10 else ""})',
                 f'  boxes in      : {s["boxes_in"]}',
                 f'  {"fused boxes out" if s["fusion"] else "boxes out    "}: '
                 f'{s["boxes_out"]}']
        if s['fusion']:
            if self.cache_hit:
                how = (f'read from the cache {self.cache_file}; fusing took '
                       f'{s["fusion_seconds"]:.2f} s when it was written')
            else:
                how = f'{s["fusion_seconds"]:.2f} s' + (
                    f', cached to {self.cache_file}' if self.cache_hit is False
                    else '')
            lines.append(f'  fusion        : {s["fusion"]} ({how})')
        for line in s['drops_text'].splitlines():
            lines.append('  ' + line)
        if s['not_in_classes']:
            lines.append(f'  not in classes (dropped): {s["not_in_classes"]}')
        if s['smaller_than_1px']:
            lines.append(f'  under 1 px (dropped, as mmdet): {s["smaller_than_1px"]}')
        hist = s['agreement_hist']
        if hist.total() and (s['fusion'] or hist.has_agreement()):
            lines.append('  agreement (boxes by readers agreeing / readers R; '
                         'c = mean confidence):')
            lines += hist.lines('    ', width)
        lines.append(f'  load time     : {self.load_seconds:.2f} s')
        return '\n'.join(lines)

    def __repr__(self) -> str:
        return self.summary()


__all__ = ['MultiAnnotatorCocoDataset']
