"""``PackMultiReaderInputs``: mmdet's ``PackDetInputs`` that also puts the per-box
EARL weights (and the readers' class shares) into the data sample (registered
under its own name)."""
import numpy as np
from mmdet.datasets.transforms import PackDetInputs as MMDetPackDetInputs

from mmmulti.registry import TRANSFORMS

from .box_weights import PACKED_FLAG, is_packed, unpack_box_weights
from .class_shares import CLASS_SPLIT_KEY, merge_class_split_rows


@TRANSFORMS.register_module()
class PackMultiReaderInputs(MMDetPackDetInputs):
    """mmdet's ``PackDetInputs`` plus ``confidences`` and ``agreements``.

    Unpacks the weights that :class:`LoadMultiReaderAnnotations` packed into
    ``gt_bboxes_labels`` and adds them to ``data_sample.gt_instances`` as
    ``confidences`` (float32 tensor) and ``agreements`` (int64 tensor); boxes
    flagged ignore go to ``ignored_instances`` with theirs, exactly as mmdet
    splits labels. Results that were never packed (mmdet's own
    ``LoadAnnotations``) get the weights only when they carry
    ``gt_confidences``/``gt_agreements`` keys themselves; otherwise the data
    sample is mmdet's, and EARL uses weight 1.

    When the data set's fusion keeps the readers' class votes (``SoftWBF``:
    results carry ``CLASS_SPLIT_KEY``), each box's class-split rows are merged
    into one gt box that also carries ``class_share_labels`` / ``class_shares``
    (:mod:`.class_shares`).
    """

    mapping_table = dict(
        MMDetPackDetInputs.mapping_table,
        gt_confidences='confidences',
        gt_agreements='agreements',
        gt_class_share_labels='class_share_labels',
        gt_class_shares='class_shares')

    def transform(self, results: dict) -> dict:
        has_weights = (is_packed(results) or 'gt_confidences' in results
                       or 'gt_agreements' in results)
        if has_weights:
            results = dict(results)  # cached results (CachedMosaic) stay packed
            labels, conf, agr = unpack_box_weights(results)
            if labels is None:
                results.pop('gt_bboxes_labels', None)
            else:
                results['gt_bboxes_labels'] = labels
            results['gt_confidences'] = conf
            results['gt_agreements'] = agr
            results.pop(PACKED_FLAG, None)
            if results.get(CLASS_SPLIT_KEY, False) and labels is not None:
                self._merge_class_split(results)
        return super().transform(results)

    @staticmethod
    def _merge_class_split(results: dict) -> None:
        """One gt box per class-split group, with its class shares."""
        boxes = results['gt_bboxes']
        arr = boxes.tensor.numpy() if hasattr(boxes, 'tensor') else np.asarray(boxes)
        ignore = results.get('gt_ignore_flags', np.zeros(len(arr), dtype=bool))
        keep, labels, conf, share_labels, shares = merge_class_split_rows(
            arr, results['gt_bboxes_labels'], results['gt_confidences'],
            results['gt_agreements'], ignore)
        results['gt_bboxes'] = boxes[keep]
        if 'gt_masks' in results:
            results['gt_masks'] = results['gt_masks'][keep]
        if 'gt_ignore_flags' in results:
            results['gt_ignore_flags'] = np.asarray(ignore)[keep]
        results['gt_bboxes_labels'] = labels
        results['gt_confidences'] = conf
        results['gt_agreements'] = np.asarray(results['gt_agreements'])[keep]
        results['gt_class_share_labels'] = share_labels
        results['gt_class_shares'] = shares
