"""Confidence intervals for mAP by resampling test images.

With one training seed the only spread we can measure is that of the test
set: which images happened to be drawn. The paired bootstrap resamples test
images with replacement, the same sample for both arms, and recomputes both
arms' mAP on it; the spread of the difference is its interval.

COCOeval is far too slow to rerun a thousand times, so pycocotools matches
every detection once (:func:`image_matches`), and :func:`map_of_sample`
re-accumulates AP from those matches for any multiset of images, following
the accumulation COCO documents (detections sorted by score with a stable
sort, precision made monotone, read at the 101 recall points, classes
without gt left out). On the identity sample it reproduces
:func:`mmmulti.evaluation.evaluate_coco_results` (tested).
"""
from __future__ import annotations

import contextlib
import io
import multiprocessing as mp
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Union

import numpy as np
from pycocotools.cocoeval import COCOeval

from .functional import COCO_IOU_THRS, PAPER_IOU_THR, _results_to_coco, map_key
from .predictions import CocoLike, check_results, load_coco_gt, load_predictions

RECALL_POINTS = np.linspace(.0, 1.00, int(np.round((1.00 - .0) / .01)) + 1, endpoint=True)


@dataclass
class ClassMatches:
    """One class's detections over all images, in image order, each image's
    detections by descending score (as COCOeval leaves them).

    ``matched``: (T, N) bool, detection matched a gt at each IoU threshold;
    ``ignored``: (T, N) bool, detection matched an ignored (crowd) gt;
    ``image``: (N,) image index; ``num_gt``: (I,) non-ignored gt per image.
    """
    scores: np.ndarray
    matched: np.ndarray
    ignored: np.ndarray
    image: np.ndarray
    num_gt: np.ndarray


@dataclass
class ImageMatches:
    """Every class's :class:`ClassMatches` for one prediction set."""
    img_ids: List[int]
    cat_ids: List[int]
    iou_thrs: np.ndarray
    classes: List[ClassMatches]
    metric_key: str


def image_matches(gt: CocoLike, results: Union[str, Sequence[Mapping]],
                  iou_thr: float = PAPER_IOU_THR, max_dets: int = 100,
                  cat_ids: Optional[Sequence[int]] = None) -> ImageMatches:
    """Match detections to gt once per image with pycocotools (area 'all')."""
    coco_gt = load_coco_gt(gt)
    results = (load_predictions(results, coco_gt) if isinstance(results, str)
               else check_results(results, coco_gt))
    img_ids = list(coco_gt.getImgIds())
    cat_ids = sorted(coco_gt.getCatIds() if cat_ids is None else cat_ids)
    evaluator = COCOeval(coco_gt, _results_to_coco(coco_gt, results), 'bbox')
    evaluator.params.catIds = cat_ids
    evaluator.params.imgIds = img_ids
    evaluator.params.maxDets = [max_dets]
    evaluator.params.areaRng = [evaluator.params.areaRng[0]]  # 'all' only
    evaluator.params.areaRngLbl = ['all']
    iou_thrs = np.concatenate([[iou_thr], COCO_IOU_THRS])
    evaluator.params.iouThrs = iou_thrs
    with contextlib.redirect_stdout(io.StringIO()):
        evaluator.evaluate()
    p = evaluator.params
    num_img, t = len(p.imgIds), len(iou_thrs)
    classes = []
    for k in range(len(p.catIds)):
        scores, matched, ignored, image = [], [], [], []
        num_gt = np.zeros(num_img, dtype=np.int64)
        for i in range(num_img):
            e = evaluator.evalImgs[k * num_img + i]
            if e is None:
                continue
            n = len(e['dtScores'][:max_dets])
            scores.append(np.asarray(e['dtScores'][:max_dets], dtype=float))
            matched.append(np.asarray(e['dtMatches'][:, :max_dets]) > 0)
            ignored.append(np.asarray(e['dtIgnore'][:, :max_dets], dtype=bool))
            image.append(np.full(n, i, dtype=np.int64))
            num_gt[i] = int(np.count_nonzero(np.asarray(e['gtIgnore']) == 0))
        classes.append(ClassMatches(
            scores=np.concatenate(scores) if scores else np.zeros(0),
            matched=np.concatenate(matched, 1) if matched else np.zeros((t, 0), bool),
            ignored=np.concatenate(ignored, 1) if ignored else np.zeros((t, 0), bool),
            image=np.concatenate(image) if image else np.zeros(0, np.int64),
            num_gt=num_gt))
    return ImageMatches(list(p.imgIds), list(p.catIds), iou_thrs, classes, map_key(iou_thr))


def _class_precision(cm: ClassMatches, counts: np.ndarray) -> Optional[np.ndarray]:
    """(T, 101) interpolated precision for images drawn ``counts`` times each;
    None when the sample holds no gt of this class.

    Drawing an image k times repeats its detections k times; the copies of one
    detection are adjacent in COCO's stable score order, and a run of equal
    outcomes changes neither the monotone precision envelope nor where the
    recall points fall in it except at the run's end. So each detection enters
    the cumulative counts once, weighted by k, in an order sorted once per
    class (:func:`_sorted`), instead of sorting k copies per sample: the same
    numbers (``tests/test_evaluation_bootstrap.py``), several times faster.
    """
    npig = int(np.dot(counts, cm.num_gt))
    if npig == 0:
        return None
    image, tp_once, fp_once = _sorted(cm)
    weights = counts[image].astype(float)
    tp = np.cumsum(tp_once * weights, axis=1)
    fp = np.cumsum(fp_once * weights, axis=1)
    out = np.zeros((tp.shape[0], len(RECALL_POINTS)))
    if tp.shape[1] == 0:
        return out
    recall = tp / npig
    precision = tp / (fp + tp + np.spacing(1))
    # monotone envelope: precision at r is the best precision at recall >= r
    precision = np.flip(np.maximum.accumulate(np.flip(precision, 1), axis=1), 1)
    for t in range(tp.shape[0]):
        idx = np.searchsorted(recall[t], RECALL_POINTS, side='left')
        ok = idx < tp.shape[1]
        out[t, ok] = precision[t, idx[ok]]
    return out


def _sorted(cm: ClassMatches) -> tuple:
    """The class's detections in COCO's order (stable, by descending score):
    their image and (T, N) true/false-positive indicators (ignored: neither),
    computed once per class and kept on ``cm``."""
    cached = getattr(cm, '_sorted_cache', None)
    if cached is None:
        order = np.argsort(-cm.scores, kind='mergesort')
        matched, ignored = cm.matched[:, order], cm.ignored[:, order]
        cached = (cm.image[order], (matched & ~ignored).astype(float),
                  (~matched & ~ignored).astype(float))
        cm._sorted_cache = cached
    return cached


def map_of_sample(matches: ImageMatches, counts: Optional[np.ndarray] = None
                  ) -> Dict[str, float]:
    """mAP at the paper's threshold and mAP[.5:.95] for a multiset of images
    (``counts[i]`` copies of image i; default: each image once)."""
    if counts is None:
        counts = np.ones(len(matches.img_ids), dtype=np.int64)
    per_class = [_class_precision(cm, counts) for cm in matches.classes]
    valid = [p for p in per_class if p is not None]
    if not valid:
        return {matches.metric_key: -1.0, 'map_50_95': -1.0}
    stack = np.stack(valid)  # (K, T, R)
    return {matches.metric_key: float(stack[:, 0].mean()),
            'map_50_95': float(stack[:, 1:].mean())}


def resample_counts(num_images: int, num_samples: int, seed: int = 0) -> np.ndarray:
    """(num_samples, num_images): how often each bootstrap resample draws each image
    (drawn with replacement, ``num_images`` draws per resample, from ``seed``)."""
    rng = np.random.default_rng(seed)
    out = np.zeros((num_samples, num_images), dtype=np.int64)
    for s in range(num_samples):
        out[s] = np.bincount(rng.integers(0, num_images, num_images), minlength=num_images)
    return out


def sample_maps(matches: ImageMatches, counts: np.ndarray) -> Dict[str, np.ndarray]:
    """:func:`map_of_sample` of every row of ``counts``: per metric, (S,) values."""
    per_sample = [map_of_sample(matches, c) for c in counts]
    keys = list(per_sample[0]) if per_sample else [matches.metric_key, 'map_50_95']
    return {k: np.array([m[k] for m in per_sample], dtype=float) for k in keys}


def _interval(full_a: Dict[str, float], full_r: Dict[str, float],
              arm_maps: Dict[str, np.ndarray], ref_maps: Dict[str, np.ndarray],
              level: float) -> Dict[str, Dict[str, float]]:
    """The full-set difference and the percentile interval over the resamples."""
    lo, hi = (1 - level) / 2 * 100, (1 + level) / 2 * 100
    out = {}
    for k in full_a:
        diffs = arm_maps[k] - ref_maps[k]
        out[k] = dict(diff=full_a[k] - full_r[k], low=float(np.percentile(diffs, lo)),
                      high=float(np.percentile(diffs, hi)))
    return out


def paired_bootstrap(arm: ImageMatches, reference: ImageMatches, num_samples: int = 1000,
                     seed: int = 0, level: float = 0.95) -> Dict[str, Dict[str, float]]:
    """Interval of ``arm - reference`` per metric, resampling test images.

    Both prediction sets must be scored on the same images. Returns per
    metric ``{'diff', 'low', 'high'}``: the difference on the full test set
    and the percentile interval over ``num_samples`` paired resamples.
    """
    return paired_bootstraps({'arm': arm, 'reference': reference}, 'reference',
                             num_samples, seed, level, workers=1)['arm']


def paired_bootstraps(matches: Mapping[str, ImageMatches], reference: str,
                      num_samples: int = 1000, seed: int = 0, level: float = 0.95,
                      workers: Optional[int] = None) -> Dict[str, Dict[str, Dict[str, float]]]:
    """:func:`paired_bootstrap` of every set in ``matches`` against ``reference``, the
    same resamples for all (so each arm's interval equals its own call's bit for
    bit). Each set's mAP over the resamples is computed once, the reference's too
    rather than once per arm, and the sets are spread over ``workers`` processes
    (default: one per core, at most one per set): the accumulation is memory-bound
    numpy, a second core halves it. ``{arm: {metric: {'diff', 'low', 'high'}}}``."""
    if reference not in matches:
        raise KeyError(f'paired bootstrap: the reference {reference!r} is not among '
                       f'the prediction sets {sorted(matches)}')
    ref = matches[reference]
    for name, m in matches.items():
        if m.img_ids != ref.img_ids:
            raise ValueError('paired bootstrap needs both arms scored on the same test '
                             f'images ({name!r} vs {reference!r})')
    counts = resample_counts(len(ref.img_ids), num_samples, seed)
    names = list(matches)
    workers = min(len(names), workers or os.cpu_count() or 1)
    if workers > 1 and 'fork' in mp.get_all_start_methods():
        # fork: the children start without importing the package again; they run
        # numpy only (no OpenMP pool of the parent's to inherit)
        with ProcessPoolExecutor(workers, mp_context=mp.get_context('fork')) as pool:
            maps = dict(zip(names, pool.map(sample_maps, [matches[n] for n in names],
                                            [counts] * len(names))))
    else:
        maps = {n: sample_maps(matches[n], counts) for n in names}
    full = {n: map_of_sample(matches[n]) for n in names}
    return {n: _interval(full[n], full[reference], maps[n], maps[reference], level)
            for n in names if n != reference}
