"""Evaluation: the paper's mAP@0.4 beside COCO mAP, and the readers ensemble.

Key names (metric prefix ``coco``): ``coco/map_40``, ``coco/map_50_95``,
``coco/bbox_mAP`` (= map_50_95), ``coco/bbox_mAP_50`` ... ``coco/bbox_mAP_l``.
"""
from .ensemble import CONF_TYPES, ensemble_predictions
from .functional import (COCO_IOU_THRS, PAPER_IOU_THR, ap_key, evaluate_coco_results,
                         format_results_table, map_key, scalar_metrics)
from .metrics import MultiReaderDetMetric
from .no_finding import NoFinding, add_no_finding_gt, no_finding_predictions, parse_no_finding
from .predictions import (check_results, det_samples_to_results, dump_predictions,
                          image_sizes, label_to_category_ids, load_coco_gt, load_predictions)

__all__ = [
    'CONF_TYPES', 'COCO_IOU_THRS', 'PAPER_IOU_THR', 'MultiReaderDetMetric', 'NoFinding',
    'add_no_finding_gt', 'ap_key', 'check_results', 'det_samples_to_results',
    'dump_predictions', 'ensemble_predictions', 'evaluate_coco_results',
    'format_results_table', 'image_sizes', 'label_to_category_ids', 'load_coco_gt',
    'load_predictions', 'map_key', 'no_finding_predictions', 'parse_no_finding',
    'scalar_metrics',
]
