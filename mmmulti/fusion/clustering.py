"""WBF's clustering step in near-linear time: a uniform grid over the fused boxes.

WBF takes the boxes of a class in score order; each joins the cluster whose
*current* fused box it overlaps most (IoU above ``iou_thr``, the first of
equal maxima in cluster order), or opens a new cluster. Comparing every box
with every cluster costs O(n^2): 100,000 boxes on one image took minutes.

Here each cluster is filed in a grid cell by the centre of its current fused
box (and moved when the box moves). A cluster can reach IoU > t with a box of
width w only if the two x-intervals overlap, i.e. the centres are less than
(w + w_c) / 2 apart, with w_c the cluster's width; and IoU > t > 0 needs
w_c < w / t. The same holds for heights. The cells within that reach give a
superset of the clusters that can match; those are then compared in cluster
order with the same IoU and the same strict, first-max rule as the full scan,
so the clusters are exactly those of the full scan (and of ``ensemble_boxes``).
"""
from __future__ import annotations

import math
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

_f32 = np.float32
#: relative slack on the reach, so that rounding never hides a cluster at the threshold
_SLACK = 1e-6
#: boxes between two progress callbacks
PROGRESS_EVERY = 10_000


class Cluster:
    """A fused box being built: running sums over its member boxes.

    Once a second box joins, the fused box, its mean (or highest) score and
    its weight are rounded to float32, as ``ensemble_boxes`` stores a fused
    box: IoUs at the threshold and equal scores are then decided the same way.
    A cluster of one box keeps that box's float64 values, as there.
    """

    __slots__ = ('members', 'sum_xyxy', 'score_sum', 'score_max', 'weight_sum', 'box')

    def __init__(self, index: int, box: list, score: float, weight: float) -> None:
        self.members = [index]
        self.sum_xyxy = [float(_f32(score * v)) for v in box]
        self.score_sum = score
        self.score_max = score
        self.weight_sum = weight
        self.box = box

    def add(self, index: int, box: list, score: float, weight: float) -> None:
        self.members.append(index)
        s = self.sum_xyxy
        for j in range(4):
            s[j] = float(_f32(s[j] + score * box[j]))
        self.score_sum += score
        self.score_max = max(self.score_max, score)
        self.weight_sum += weight
        total = self.score_sum
        self.box = [float(_f32(v / total)) for v in s]

    def _stored(self, value: float) -> float:
        return value if len(self.members) == 1 else float(_f32(value))

    @property
    def mean_score(self) -> float:
        """The members' mean weighted score."""
        return self._stored(self.score_sum / len(self.members))

    @property
    def max_score(self) -> float:
        """The members' highest weighted score."""
        return self._stored(self.score_max)

    @property
    def weight(self) -> float:
        """The sum of the members' source weights."""
        return self._stored(self.weight_sum)

    def overlap(self, box: list) -> float:
        """IoU of ``box`` with the current fused box."""
        ax1, ay1, ax2, ay2 = self.box
        bx1, by1, bx2, by2 = box
        iw = min(ax2, bx2) - max(ax1, bx1)
        ih = min(ay2, by2) - max(ay1, by1)
        if iw <= 0 or ih <= 0:
            return 0.0
        inter = iw * ih
        return inter / ((ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter)


class _Grid:
    """Clusters by the grid cell of their fused box's centre."""

    def __init__(self, cell_w: float, cell_h: float) -> None:
        self.cw, self.ch = cell_w, cell_h
        self.cells: Dict[tuple, List[int]] = {}
        self.key_of: List[tuple] = []
        self.max_w = self.max_h = 0.0   # widest / tallest fused box so far

    def _key(self, box: list) -> tuple:
        return (math.floor((box[0] + box[2]) * 0.5 / self.cw),
                math.floor((box[1] + box[3]) * 0.5 / self.ch))

    def add(self, k: int, box: list) -> None:
        key = self._key(box)
        self.key_of.append(key)
        self.cells.setdefault(key, []).append(k)
        self._grow(box)

    def moved(self, k: int, box: list) -> None:
        key = self._key(box)
        old = self.key_of[k]
        if key != old:
            cell = self.cells[old]
            cell.remove(k)
            if not cell:
                del self.cells[old]
            self.cells.setdefault(key, []).append(k)
            self.key_of[k] = key
        self._grow(box)

    def _grow(self, box: list) -> None:
        self.max_w = max(self.max_w, box[2] - box[0])
        self.max_h = max(self.max_h, box[3] - box[1])

    def candidates(self, box: list, iou_thr: float, num_clusters: int) -> Sequence[int]:
        """Clusters that may overlap ``box`` at IoU > ``iou_thr``, in cluster order."""
        w, h = box[2] - box[0], box[3] - box[1]
        reach_w, reach_h = self.max_w, self.max_h
        if iou_thr > 0:
            reach_w, reach_h = min(reach_w, w / iou_thr), min(reach_h, h / iou_thr)
        rx = (w + reach_w) * 0.5 * (1 + _SLACK) + 1e-12
        ry = (h + reach_h) * 0.5 * (1 + _SLACK) + 1e-12
        cx, cy = (box[0] + box[2]) * 0.5, (box[1] + box[3]) * 0.5
        i0, i1 = math.floor((cx - rx) / self.cw), math.floor((cx + rx) / self.cw)
        j0, j1 = math.floor((cy - ry) / self.ch), math.floor((cy + ry) / self.ch)
        if (i1 - i0 + 1) * (j1 - j0 + 1) > max(num_clusters, 16):
            return range(num_clusters)   # reach wider than the clusters: scan them all
        found: List[int] = []
        cells = self.cells
        for i in range(i0, i1 + 1):
            for j in range(j0, j1 + 1):
                cell = cells.get((i, j))
                if cell:
                    found.extend(cell)
        found.sort()
        return found


def _cell_size(sizes: np.ndarray) -> float:
    """Twice the median extent: a few cells per query, a few clusters per cell."""
    positive = sizes[sizes > 0]
    return float(2.0 * np.median(positive)) if len(positive) else 1.0


def cluster_boxes(order: Sequence[int], boxes: list, scores: list, weights: list,
                  iou_thr: float,
                  on_progress: Optional[Callable[[int], None]] = None) -> List[Cluster]:
    """WBF's clusters of the boxes of one class, taken in ``order``.

    ``boxes`` are xyxy lists with positive area, ``scores`` the weighted scores,
    ``weights`` the source weights. ``on_progress(n)`` is called every
    :data:`PROGRESS_EVERY` boxes with the number of boxes done since the last call.
    """
    if not len(order):
        return []
    sel = np.asarray(boxes, dtype=np.float64)[np.asarray(order)]
    grid = _Grid(_cell_size(sel[:, 2] - sel[:, 0]), _cell_size(sel[:, 3] - sel[:, 1]))
    clusters: List[Cluster] = []
    since = 0
    for i in order:
        box = boxes[i]
        best, best_iou = -1, iou_thr
        for k in grid.candidates(box, iou_thr, len(clusters)):
            iou = clusters[k].overlap(box)
            if iou > best_iou:  # strictly above: the first of equal maxima wins
                best, best_iou = k, iou
        if best < 0:
            grid.add(len(clusters), box)
            clusters.append(Cluster(i, box, scores[i], weights[i]))
        else:
            c = clusters[best]
            c.add(i, box, scores[i], weights[i])
            grid.moved(best, c.box)
        since += 1
        if on_progress is not None and since == PROGRESS_EVERY:
            on_progress(since)
            since = 0
    if on_progress is not None and since:
        on_progress(since)
    return clusters


__all__ = ['Cluster', 'cluster_boxes', 'PROGRESS_EVERY']
