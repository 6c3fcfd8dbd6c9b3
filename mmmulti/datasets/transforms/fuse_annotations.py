"""Online truth inference: fuse the readers' boxes of one image in the pipeline.

Fusing once at load time (``MultiAnnotatorCocoDataset(fusion=...)``) is the
usual way; this transform is for experiments that change the fusion per
sample (e.g. a random reader subset before fusing) or for data sets built
without it. It must see the readers' boxes as loaded, so it goes right after
``LoadMultiReaderAnnotations``.
"""
from typing import Union

import numpy as np
from mmcv.transforms import BaseTransform
from mmdet.structures.bbox import BaseBoxes

from mmmulti.fusion.base import BaseFusion, ImageReads
from mmmulti.registry import FUSION_METHODS, TRANSFORMS

from .box_weights import pack_box_weights, unpack_box_weights
from .class_shares import CLASS_SPLIT_KEY
from .loading import READERS_ANCHOR_KEY, get_gt_readers


def is_dataset_level(method: BaseFusion) -> bool:
    """Whether a fusion method estimates something over the whole data set
    (e.g. reader reliabilities), so that fusing one image alone would
    silently fall back to its defaults.

    A method says so with a class attribute ``dataset_level = True``; methods
    that keep per-data-set estimates in ``reader_estimates`` count too.
    """
    return bool(getattr(method, 'dataset_level', False)
                or hasattr(method, 'reader_estimates'))


@TRANSFORMS.register_module()
class FuseAnnotations(BaseTransform):
    """Replace the readers' boxes of an image by their fusion.

    Required keys: ``gt_bboxes``, ``gt_bboxes_labels`` (as packed by
    ``LoadMultiReaderAnnotations``), ``gt_readers``; ``image_readers`` (the
    readers who read the image, absent votes included; when missing, the
    distinct readers of its boxes), ``img_shape`` or ``height``/``width``.

    Modified keys: ``gt_bboxes`` (fused boxes, then any ignored input boxes;
    HorizontalBoxes, or numpy when ``LoadMultiReaderAnnotations(box_type=None)``),
    ``gt_bboxes_labels`` (packed with the fused confidence and agreement), ``gt_ignore_flags`` (False for fused boxes;
    boxes flagged ignore on input are kept, not fused, still ignored),
    ``gt_readers`` ('' for fused boxes).

    Args:
        fusion (dict | BaseFusion): a ``FUSION_METHODS`` config, e.g.
            ``dict(type='WBF', iou_thr=0.4)``. Data-set-level methods
            (``ReliabilityWBF``) are refused: use the data set's ``fusion=``.
    """

    def __init__(self, fusion: Union[dict, BaseFusion]) -> None:
        self.fusion_cfg = fusion
        self.method = (fusion if isinstance(fusion, BaseFusion) else
                       FUSION_METHODS.build(fusion))
        if is_dataset_level(self.method):
            raise ValueError(
                f'FuseAnnotations: {type(self.method).__name__} fuses over the '
                'whole data set (it estimates something across images) and '
                'cannot run on one image in the pipeline; pass it to the '
                'data set instead: MultiAnnotatorCocoDataset(fusion='
                f'dict(type={type(self.method).__name__!r}, ...))')

    def transform(self, results: dict) -> dict:
        where = f'{results.get("img_path", "?")} (img_id {results.get("img_id", "?")})'
        if 'gt_readers' not in results:
            raise KeyError(f'FuseAnnotations: {where}: no gt_readers; put '
                           'LoadMultiReaderAnnotations before it')
        labels, conf, agr = unpack_box_weights(results)
        readers = get_gt_readers(results)
        if readers is None:
            raise ValueError(
                f'FuseAnnotations: {where}: gt_readers are no longer aligned '
                'with the boxes (a transform dropped or reordered them); place '
                'FuseAnnotations right after LoadMultiReaderAnnotations')
        if labels is None:
            raise ValueError(f'FuseAnnotations: {where}: needs labels '
                             '(LoadMultiReaderAnnotations(with_label=True))')
        boxes = results['gt_bboxes']
        box_type = type(boxes) if isinstance(boxes, BaseBoxes) else None
        boxes_np = (boxes.tensor.numpy() if box_type is not None else
                    np.asarray(boxes, dtype=np.float32).reshape(-1, 4))
        ignore = np.asarray(results.get('gt_ignore_flags',
                                        np.zeros(len(boxes_np), bool)), bool)
        readers = np.asarray(readers, dtype=object)
        image_readers = results.get('image_readers')
        if image_readers is None:
            image_readers = sorted(set(readers[~ignore].tolist()))
        if 'img_shape' in results:
            height, width = results['img_shape'][:2]
        else:
            height, width = results['height'], results['width']

        keep = ~ignore
        reads = ImageReads(boxes=boxes_np[keep], labels=labels[keep],
                           readers=readers[keep],
                           image_readers=list(image_readers),
                           width=float(width), height=float(height))
        fused = self.method.fuse(reads)

        out_boxes = np.concatenate([fused.boxes, boxes_np[ignore]]).astype(
            np.float32).reshape(-1, 4)
        out_labels = np.concatenate([fused.labels, labels[ignore]])
        out_conf = np.concatenate([fused.confidences, conf[ignore]])
        out_agr = np.concatenate([fused.agreement, agr[ignore]])
        n_fused = len(fused)
        out_ignore = np.concatenate(
            [np.zeros(n_fused, bool), np.ones(int(ignore.sum()), bool)])
        out_readers = np.empty(len(out_boxes), dtype=object)
        out_readers[:n_fused] = ''
        out_readers[n_fused:] = readers[ignore]

        results['gt_bboxes'] = (out_boxes if box_type is None else
                                box_type(out_boxes))
        results['gt_ignore_flags'] = out_ignore
        pack_box_weights(results, out_labels, out_conf, out_agr)
        results['gt_readers'] = out_readers
        results[READERS_ANCHOR_KEY] = results['gt_bboxes_labels'].copy()
        if getattr(self.method, 'splits_classes', False):
            results[CLASS_SPLIT_KEY] = True  # SoftWBF rows: merged at packing
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(fusion={self.method!r})'
