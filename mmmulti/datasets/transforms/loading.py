"""``LoadMultiReaderAnnotations``: mmdet's ``LoadAnnotations`` that also loads each
box's reader, confidence and agreement; ``LoadImageCheckSize``: mmcv's
``LoadImageFromFile`` that checks the image against its record's size (and
takes images the data set decoded once, ``cache_images=True``).

Both register under their own names: mmdet's and mmcv's names keep building
mmdet's and mmcv's transforms, also in the ``mmmulti`` scope.
"""
from typing import Optional

import numpy as np
from mmcv.transforms import LoadImageFromFile as MMCVLoadImageFromFile
from mmdet.datasets.transforms import LoadAnnotations as MMDetLoadAnnotations

from mmmulti.registry import TRANSFORMS

from ..image_cache import CACHED_IMAGE_KEY, to_color_type
from .box_weights import pack_box_weights

#: results key of the copy of the packed labels taken when ``gt_readers`` was
#: loaded: ``gt_readers`` is valid only while the labels still equal it.
READERS_ANCHOR_KEY = 'mmmulti_readers_anchor'


def get_gt_readers(results: dict) -> Optional[np.ndarray]:
    """The reader id of each current box, or None once a transform has
    dropped, added or reordered boxes since they were loaded.

    Reader ids (strings) cannot travel inside the int64 labels as the
    weights do, so they are only valid until the first box-dropping
    transform; read them through this function, never ``results`` directly.
    """
    readers = results.get('gt_readers')
    anchor = results.get(READERS_ANCHOR_KEY)
    labels = results.get('gt_bboxes_labels')
    if readers is None or anchor is None or labels is None:
        return None
    if len(anchor) != len(labels) or not np.array_equal(anchor, labels) \
            or len(readers) != len(labels):
        return None
    return readers


@TRANSFORMS.register_module()
class LoadImageCheckSize(MMCVLoadImageFromFile):
    """mmcv's ``LoadImageFromFile`` that refuses an image whose decoded size
    differs from its record's ``width`` / ``height``.

    The boxes of the record are in the frame of that size: an image file
    replaced by a resized copy would otherwise be trained on with boxes in
    the wrong place, without any error. Every shipped pipeline uses it.
    Records without a size (plain inference on image files) are not checked.
    It also takes the image a data set decoded once (``cache_images=True``).

    Args:
        check_size (bool): compare the decoded size with the record's.
            Default True.
        **kwargs: as mmcv's ``LoadImageFromFile``.
    """

    def __init__(self, *args, check_size: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.check_size = check_size

    def transform(self, results: dict) -> Optional[dict]:
        cached = results.pop(CACHED_IMAGE_KEY, None)
        if cached is not None:  # decoded once by the data set (cache_images=True)
            img = to_color_type(cached, self.color_type)
            if self.to_float32:
                img = img.astype(np.float32)
            results['img'] = img
            results['img_shape'] = img.shape[:2]
            results['ori_shape'] = img.shape[:2]
        else:
            results = super().transform(results)
        if results is None or not self.check_size:
            return results
        width, height = results.get('width'), results.get('height')
        if width is None or height is None:
            return results
        h, w = results['img'].shape[:2]
        if (int(h), int(w)) != (int(height), int(width)):
            raise ValueError(
                f'{results.get("img_path", "?")} (img_id {results.get("img_id", "?")}): '
                f'the image is {w}x{h} px but its annotation record says '
                f'{width}x{height}; its boxes would be misplaced (re-export the '
                f'image or fix width/height in the annotation file)')
        return results


@TRANSFORMS.register_module()
class LoadMultiReaderAnnotations(MMDetLoadAnnotations):
    """mmdet's ``LoadAnnotations`` plus the per-box EARL weight.

    Reads ``confidence`` (default 1.0), ``agreement`` (default 1) and
    ``reader`` (default '') of every instance. Confidence and agreement are
    packed into ``gt_bboxes_labels`` (see :mod:`.box_weights`) so that every
    box-dropping transform keeps them aligned; ``PackMultiReaderInputs`` unpacks them
    into ``gt_instances.confidences`` / ``gt_instances.agreements``.

    Added keys: ``gt_readers`` (object array of reader ids, valid until a
    transform drops or reorders boxes: read it with :func:`get_gt_readers`),
    ``image_readers`` kept from the data info. ``gt_bboxes_labels`` holds
    packed values until ``PackMultiReaderInputs``.
    """

    def transform(self, results: dict) -> dict:
        results = super().transform(results)
        if not self.with_bbox:
            return results
        instances = results.get('instances', [])
        n = len(instances)
        conf = np.array([float(ins.get('confidence', 1.0))
                         for ins in instances], dtype=np.float32)
        agr = np.array([int(ins.get('agreement', 1)) for ins in instances],
                       dtype=np.int64)
        if self.with_label:
            labels = results['gt_bboxes_labels']
        else:
            labels = np.zeros(n, dtype=np.int64)
        try:
            pack_box_weights(results, labels, conf, agr,
                             with_label=self.with_label)
        except ValueError as err:
            raise ValueError(
                f'{results.get("img_path", "?")} (img_id '
                f'{results.get("img_id", "?")}): {err}') from err
        readers = np.empty(n, dtype=object)
        readers[:] = [str(ins.get('reader', '') or '') for ins in instances]
        results['gt_readers'] = readers
        results[READERS_ANCHOR_KEY] = results['gt_bboxes_labels'].copy()
        return results
