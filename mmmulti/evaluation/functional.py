"""Scoring detections the paper's way: mAP@0.4 and COCO mAP@[.5:.95].

mAP@0.4 (paper, VinBigData challenge) is COCO-style AP, 101 recall points,
at a single IoU threshold 0.4, averaged over classes; classes without any gt
box are left out, as pycocotools does (their precision is -1). Both metrics
come from ONE pycocotools ``COCOeval`` run whose IoU thresholds are
``[0.4, 0.5, 0.55, ..., 0.95]``: pycocotools matches and accumulates every
threshold independently, so slicing the precision array gives exactly what
two separate runs (``iouThrs=[0.4]`` and the default) give.
"""
import contextlib
import io
import os
from collections import Counter
from typing import Dict, List, Mapping, Optional, Sequence, Union

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from terminaltables import AsciiTable

from .no_finding import NoFinding, add_no_finding_gt, no_finding_predictions, parse_no_finding
from .predictions import CocoLike, check_results, coco_from_dict, load_coco_gt, load_predictions

COCO_IOU_THRS = np.linspace(.5, 0.95, int(np.round((0.95 - .5) / .05)) + 1, endpoint=True)
PAPER_IOU_THR = 0.4
# scalar keys besides map_XX, in the order CocoMetric reports them
COCO_KEYS = ('bbox_mAP', 'bbox_mAP_50', 'bbox_mAP_75', 'bbox_mAP_s', 'bbox_mAP_m', 'bbox_mAP_l')


def map_key(iou_thr: float = PAPER_IOU_THR) -> str:
    """Name of the single-threshold mAP: ``map_40`` for IoU 0.4."""
    return f'map_{int(round(iou_thr * 100)):d}'


def ap_key(iou_thr: float = PAPER_IOU_THR) -> str:
    """Per-class name of the single-threshold AP: ``ap_40`` for IoU 0.4."""
    return f'ap_{int(round(iou_thr * 100)):d}'


def _mean_valid(precision: np.ndarray) -> float:
    """pycocotools' average: mean of entries > -1, or -1 when there is none."""
    valid = precision[precision > -1]
    return float(np.mean(valid)) if valid.size else -1.0


def _results_to_coco(coco_gt: COCO, results: List[dict]) -> COCO:
    """pycocotools ``loadRes`` that also accepts an empty list (AP 0, not a crash)."""
    if results:
        with contextlib.redirect_stdout(io.StringIO()):
            return coco_gt.loadRes([dict(r, bbox=list(r['bbox'])) for r in results])
    return coco_from_dict(dict(images=list(coco_gt.dataset['images']),
                               categories=list(coco_gt.dataset['categories']),
                               annotations=[]))


def evaluate_coco_results(gt: CocoLike,
                          results: Union[str, os.PathLike, Sequence[Mapping]],
                          iou_thr: float = PAPER_IOU_THR,
                          classwise: bool = True,
                          no_finding: Union[None, bool, Mapping, NoFinding] = None,
                          cat_ids: Optional[Sequence[int]] = None,
                          img_ids: Optional[Sequence[int]] = None,
                          max_dets: int = 100) -> Dict:
    """Score COCO results against a gt.

    Args:
        gt: gt json path, COCO dict or pycocotools ``COCO``.
        results: COCO results list or a prediction file (json / mmdet pkl).
        iou_thr: the single IoU threshold of the paper's mAP (key ``map_40``
            for 0.4).
        classwise: add ``per_class``.
        no_finding: the VinBigData convention (see
            :mod:`mmmulti.evaluation.no_finding`), e.g. ``dict(enable=True,
            class_id=14)``.
        cat_ids: categories to evaluate (default: all of the gt, but the
            "No finding" category when ``no_finding`` is on).
        img_ids: images to evaluate (default: all of the gt).
        max_dets: detections kept per image (COCO's 100).

    Returns:
        ``{'map_40', 'map_50_95', 'bbox_mAP', 'bbox_mAP_50', 'bbox_mAP_75',
        'bbox_mAP_s', 'bbox_mAP_m', 'bbox_mAP_l'}`` (floats in [0, 1], -1
        where no class has gt, as pycocotools), ``num_images``,
        ``num_predictions`` and, with ``classwise``, ``per_class``:
        ``{class name: {'category_id', 'num_gt', 'num_pred', 'ap_40',
        'ap_50_95'}}`` (AP None for a class without gt). ``bbox_mAP`` equals
        ``map_50_95`` (kept for mmdet's usual ``save_best='coco/bbox_mAP'``).
    """
    coco_gt = load_coco_gt(gt)
    if isinstance(results, (str, os.PathLike)):
        results = load_predictions(os.fspath(results), coco_gt)
    else:
        results = check_results(results, coco_gt)
    nf = parse_no_finding(no_finding)
    if cat_ids is None:  # every gt category but "No finding" itself
        cat_ids = [c for c in coco_gt.getCatIds() if nf is None or c != nf.class_id]
    cat_ids = list(cat_ids)
    img_ids = list(coco_gt.getImgIds() if img_ids is None else img_ids)
    unknown = [c for c in cat_ids if c not in coco_gt.cats]
    if unknown:
        raise ValueError(f'cat_ids {unknown} are not categories of the ground truth')

    if nf is not None:
        coco_gt = add_no_finding_gt(coco_gt, nf, cat_ids, img_ids)
        results = results + no_finding_predictions(results, nf, cat_ids, img_ids)
        cat_ids = cat_ids + [nf.class_id]

    coco_dt = _results_to_coco(coco_gt, results)
    evaluator = COCOeval(coco_gt, coco_dt, 'bbox')
    evaluator.params.catIds = cat_ids
    evaluator.params.imgIds = img_ids
    evaluator.params.maxDets = [max_dets]  # AP uses only the largest (COCO: 100)
    evaluator.params.iouThrs = np.concatenate([[iou_thr], COCO_IOU_THRS])
    with contextlib.redirect_stdout(io.StringIO()):
        evaluator.evaluate()
        evaluator.accumulate()
    # precision: [T (0.4, .5 ... .95), R (101), K (sorted cat ids), A (all,s,m,l), M]
    precision = evaluator.eval['precision'][..., -1]
    coco_part = precision[1:]
    out: Dict = {
        map_key(iou_thr): _mean_valid(precision[0, :, :, 0]),
        'map_50_95': _mean_valid(coco_part[:, :, :, 0]),
        'bbox_mAP': _mean_valid(coco_part[:, :, :, 0]),
        'bbox_mAP_50': _mean_valid(coco_part[0, :, :, 0]),
        'bbox_mAP_75': _mean_valid(coco_part[5, :, :, 0]),
        'bbox_mAP_s': _mean_valid(coco_part[:, :, :, 1]),
        'bbox_mAP_m': _mean_valid(coco_part[:, :, :, 2]),
        'bbox_mAP_l': _mean_valid(coco_part[:, :, :, 3]),
        'num_images': len(img_ids),
        'num_predictions': len(results),
    }
    if classwise:
        # pycocotools sorts params.catIds; index K follows that order
        k_of = {c: k for k, c in enumerate(evaluator.params.catIds)}
        img_set = set(img_ids)
        n_pred = Counter(r['category_id'] for r in results if r['image_id'] in img_set)
        n_gt = Counter(a['category_id'] for a in coco_gt.dataset['annotations']
                       if a['image_id'] in img_set and not a.get('iscrowd', 0))
        per_class = {}
        for cat_id in cat_ids:
            k = k_of[cat_id]
            ap_single = _mean_valid(precision[0, :, k, 0])
            ap_coco = _mean_valid(coco_part[:, :, k, 0])
            per_class[coco_gt.cats[cat_id]['name']] = {
                'category_id': cat_id,
                'num_gt': n_gt[cat_id],
                'num_pred': n_pred[cat_id],
                ap_key(iou_thr): None if ap_single < 0 else ap_single,
                'ap_50_95': None if ap_coco < 0 else ap_coco,
            }
        out['per_class'] = per_class
    return out


def format_results_table(scores: Mapping, iou_thr: float = PAPER_IOU_THR) -> str:
    """A readable table: one row per class, then the means."""
    mk, ak = map_key(iou_thr), ap_key(iou_thr)
    single = f'AP@{iou_thr:g}'

    def fmt(v) -> str:
        return 'n/a' if v is None or v < 0 else f'{v:.4f}'

    rows = [['class', 'cat id', 'gt boxes', 'predictions', single, 'AP@[.5:.95]']]
    for name, pc in scores.get('per_class', {}).items():
        rows.append([name, str(pc['category_id']), str(pc['num_gt']), str(pc['num_pred']),
                     fmt(pc[ak]), fmt(pc['ap_50_95'])])
    rows.append(['mean', '', '', str(scores['num_predictions']), fmt(scores[mk]),
                 fmt(scores['map_50_95'])])
    table = AsciiTable(rows)
    table.inner_footing_row_border = True
    return table.table


def scalar_metrics(scores: Mapping, iou_thr: float = PAPER_IOU_THR) -> Dict[str, float]:
    """The float metrics of :func:`evaluate_coco_results` (for loggers)."""
    return {k: float(scores[k]) for k in (map_key(iou_thr), 'map_50_95') + COCO_KEYS}
