"""``PackMultiReaderInputs``: mmdet's ``PackDetInputs`` that also puts the per-box
EARL weights into the data sample (registered under its own name)."""
from mmdet.datasets.transforms import PackDetInputs as MMDetPackDetInputs

from mmmulti.registry import TRANSFORMS

from .box_weights import PACKED_FLAG, is_packed, unpack_box_weights


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
    """

    mapping_table = dict(
        MMDetPackDetInputs.mapping_table,
        gt_confidences='confidences',
        gt_agreements='agreements')

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
        return super().transform(results)
