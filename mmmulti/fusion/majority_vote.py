"""Majority vote: keep a finding when at least half the readers drew it."""
from __future__ import annotations

import math
from typing import Optional

import numpy as np

from .registry import FUSION_METHODS
from .base import BaseFusion, FusedBoxes, ImageReads
from .geometry import pair_iou
from .params import check_iou_thr


@FUSION_METHODS.register_module()
class MajorityVote(BaseFusion):
    """Greedy IoU clustering per class, one box per reader per cluster.

    Boxes are visited reader by reader (the image's reader order), box by box;
    a box joins the cluster of its class whose mean box it overlaps most at
    IoU > ``iou_thr`` and that holds no box of its reader yet, else starts a
    cluster. Clusters drawn by at least ``min_readers`` distinct readers
    (default ceil(R / 2)) are kept as their mean box, with agreement = readers
    in the cluster and confidence = agreement / R.
    """

    def __init__(self, iou_thr: float = 0.4, min_readers: Optional[int] = None,
                 progress: bool = True) -> None:
        super().__init__(progress=progress)
        self.iou_thr = check_iou_thr(iou_thr)
        if min_readers is not None and (isinstance(min_readers, bool)
                                        or not isinstance(min_readers, int)
                                        or min_readers < 1):
            raise ValueError(f'min_readers must be an integer >= 1, got {min_readers!r}')
        self.min_readers = min_readers

    def fuse(self, reads: ImageReads) -> FusedBoxes:
        R = reads.num_readers
        if R == 0 or len(reads) == 0:
            return FusedBoxes.empty()
        need = self.min_readers if self.min_readers is not None else math.ceil(R / 2)
        pos = {r: t for t, r in enumerate(reads.image_readers)}
        order = sorted(range(len(reads)), key=lambda i: pos.get(reads.readers[i], R))
        clusters = []   # [label, sum of boxes, n, set of readers]
        for i in order:
            box, label, reader = reads.boxes[i], int(reads.labels[i]), reads.readers[i]
            best, best_iou = -1, self.iou_thr
            for k, (lab, total, n, who) in enumerate(clusters):
                if lab != label or reader in who:
                    continue
                mean = total / n
                iou = pair_iou(mean, box)
                if iou > best_iou:
                    best, best_iou = k, iou
            if best < 0:
                clusters.append([label, box.copy(), 1, {reader}])
            else:
                c = clusters[best]
                c[1] = c[1] + box
                c[2] += 1
                c[3].add(reader)
        kept = [c for c in clusters if len(c[3]) >= need]
        if not kept:
            return FusedBoxes.empty()
        agree = np.array([min(len(c[3]), R) for c in kept], dtype=np.int64)
        return FusedBoxes(np.array([c[1] / c[2] for c in kept]),
                          np.array([c[0] for c in kept]), agree / R, agree)

