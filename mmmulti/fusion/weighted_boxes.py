"""Weighted Boxes Fusion (Solovyev, Wang & Gabruseva, 2021), with its clusters.

One implementation serves truth inference (:class:`~mmmulti.fusion.WBF`, the
readers' boxes of an image) and the readers ensemble (several models'
predictions). Boxes come from ``T`` sources (readers or models), each with a
weight. The method, as the WBF paper and ``ensemble_boxes`` document it:

1. Clean: swap inverted corners, clip to [0, 1], drop boxes with no area or
   a score below ``skip_box_thr``.
2. For each class, take the boxes by descending weighted score (score x its
   source's weight). A box joins the cluster whose current fused box it
   overlaps most, if that IoU exceeds ``iou_thr``; otherwise it opens a new
   cluster. :mod:`.clustering` finds that cluster through a grid over the
   fused boxes, so the cost grows about linearly with the boxes of an image.
3. A cluster's fused box is the score-weighted mean of its members' corners;
   its running score is their mean score (``max``: their highest).
4. At the end the score is rescaled by how many sources could have voted
   (``conf_type``, below).

Unlike ``ensemble_boxes``, the result keeps each cluster's members and the
number of distinct sources among them, which truth inference needs: the
agreement of a fused box is how many *readers* drew it, and one reader who
drew a finding twice must count once. ``ensemble_boxes`` stays the test oracle
(``tests/test_fusion_wbf.py``: equal outputs on random data at every
``conf_type``), and ``benchmarks/bench_fusion.py`` times both.

Processing order follows the library's documented sort (``argsort`` of the
scores, reversed) so that equal scores -- every reader box scores 1 -- are
taken in the same order and the clusters are the same.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, List, Optional, Sequence

import numpy as np

from .clustering import Cluster, cluster_boxes

#: score rules after clustering (n: boxes in the cluster, T: sources,
#: W: sum of the source weights)
CONF_TYPES = ('avg', 'max', 'box_and_model_avg', 'absent_model_aware_avg')


@dataclass
class WeightedBoxes:
    """The fused boxes of one image, in descending score.

    ``boxes`` are normalised xyxy; ``members[k]`` holds the input indices of
    cluster ``k`` and ``sources[k]`` how many distinct sources they come from.
    """

    boxes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray
    members: List[np.ndarray] = field(default_factory=list)
    sources: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    def __len__(self) -> int:
        return len(self.scores)

    @classmethod
    def empty(cls) -> 'WeightedBoxes':
        return cls(np.zeros((0, 4)), np.zeros(0), np.zeros(0, np.int64), [],
                   np.zeros(0, np.int64))


def clean_boxes(boxes: np.ndarray, scores: np.ndarray,
                skip_box_thr: float = 0.0) -> tuple:
    """Step 1: ordered corners clipped to [0, 1], and the mask of boxes kept
    (score not below ``skip_box_thr``, area above 0)."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    b = np.clip(np.concatenate([np.minimum(b[:, :2], b[:, 2:]),
                                np.maximum(b[:, :2], b[:, 2:])], axis=1), 0.0, 1.0)
    keep = ~(np.asarray(scores, dtype=np.float64) < skip_box_thr)
    keep &= (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) > 0
    return b, keep


def _final_score(c: Cluster, cluster_sources: set, conf_type: str, num_sources: int,
                 source_weights: np.ndarray, total_weight: float,
                 allows_overflow: bool) -> float:
    """Step 4: the cluster's score after rescaling by ``conf_type``."""
    n = len(c.members)
    if conf_type == 'max':
        return c.max_score / float(source_weights.max())
    score = c.mean_score
    if conf_type == 'avg':
        votes = n if allows_overflow else min(n, num_sources)
        return score * votes / total_weight
    if conf_type == 'box_and_model_avg':
        # average over boxes, then over the sources that voted
        voted = float(source_weights[sorted(cluster_sources)].sum())
        return score * n / c.weight * voted / total_weight
    # absent_model_aware_avg: sources without a box count as zero votes
    absent = np.ones(num_sources, dtype=bool)
    absent[sorted(cluster_sources)] = False
    return score * n / (c.weight + float(source_weights[absent].sum()))


def weighted_boxes_fusion(boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray,
                          sources: np.ndarray, source_weights: Optional[Sequence[float]] = None,
                          num_sources: Optional[int] = None, iou_thr: float = 0.55,
                          skip_box_thr: float = 0.0, conf_type: str = 'avg',
                          allows_overflow: bool = False,
                          on_progress: Optional[Callable[[int], None]] = None) -> WeightedBoxes:
    """Fuse the boxes of one image.

    Args:
        boxes: (n, 4) xyxy normalised to [0, 1] (cleaned here, step 1).
        scores: (n, ) box scores (1 for a reader's box).
        labels: (n, ) class of each box; only boxes of one class fuse.
        sources: (n, ) index of the source (reader, model) of each box, in
            ``0 .. T - 1``. Boxes are taken source by source, as the lists of
            ``ensemble_boxes``, so equal scores are ordered as there.
        source_weights: (T, ) weight of each source (default 1).
        num_sources: T, including sources without boxes on this image (the
            absent votes); default ``len(source_weights)`` or
            ``max(sources) + 1``.
        iou_thr: a box joins a cluster when its IoU is above this.
        skip_box_thr: boxes scoring below are ignored.
        conf_type: one of :data:`CONF_TYPES`.
        allows_overflow: with ``'avg'``, let a cluster with more boxes than
            sources score above 1.
        on_progress: called with a number of boxes clustered since its last
            call (a progress bar within an image of many boxes).
    """
    if conf_type not in CONF_TYPES:
        raise ValueError(f'conf_type must be one of {CONF_TYPES}, got {conf_type!r}')
    sources = np.asarray(sources, dtype=np.int64).reshape(-1)
    if num_sources is None:
        num_sources = (len(source_weights) if source_weights is not None
                       else int(sources.max()) + 1 if len(sources) else 0)
    w = (np.ones(num_sources) if source_weights is None
         else np.asarray(source_weights, dtype=np.float64).reshape(-1))
    if len(w) != num_sources:
        raise ValueError(f'{len(w)} source weights for {num_sources} sources')
    if len(sources) and (sources.min() < 0 or sources.max() >= num_sources):
        raise ValueError(f'source indices must be in 0..{num_sources - 1}')
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    labels = np.asarray(labels).reshape(-1)
    clean, keep = clean_boxes(boxes, scores, skip_box_thr)
    if not (len(clean) == len(scores) == len(labels) == len(sources)):
        raise ValueError(f'{len(clean)} boxes, {len(scores)} scores, {len(labels)} '
                         f'labels and {len(sources)} sources')
    # source by source (stable), then only the kept boxes
    index = np.argsort(sources, kind='stable')
    index = index[keep[index]]
    if not len(index):
        return WeightedBoxes.empty()
    box_w = w[sources[index]]
    weighted = scores[index] * box_w
    box_list = clean[index].tolist()
    score_list = weighted.tolist()
    weight_list = box_w.tolist()
    label_of = labels[index]

    total_weight = float(w.sum())
    fused_boxes, fused_scores, fused_labels, members, voters = [], [], [], [], []
    # classes in order of first appearance, as ensemble_boxes' dict of labels
    _, first = np.unique(label_of, return_index=True)
    for label in label_of[np.sort(first)]:
        rows = np.flatnonzero(label_of == label)
        order = rows[np.argsort(weighted[rows])[::-1]].tolist()
        for c in cluster_boxes(order, box_list, score_list, weight_list, iou_thr,
                               on_progress):
            member_src = set(sources[index[c.members]].tolist())
            fused_boxes.append(c.box)
            fused_scores.append(_final_score(c, member_src, conf_type, num_sources, w,
                                             total_weight, allows_overflow))
            fused_labels.append(label)
            members.append(index[np.asarray(c.members)])
            voters.append(len(member_src))
    scores_out = np.asarray(fused_scores, dtype=np.float64)
    order = np.argsort(scores_out)[::-1]
    return WeightedBoxes(np.asarray(fused_boxes, dtype=np.float64)[order],
                         scores_out[order], np.asarray(fused_labels)[order],
                         [members[k] for k in order],
                         np.asarray(voters, dtype=np.int64)[order])
