"""How good are a fusion method's training targets? Scored against the truth.

On simulated data (MED-MNIST) the clean boxes are known, so the targets a
fusion method hands to training can be judged before any detector is trained:
how many of its boxes are real findings, how much of the EARL weight lands on
boxes that are not, how many true findings it keeps, with which class and how
tightly. A fused box is *real* when it overlaps a true box (any class) at
IoU >= ``iou_thr``, and it *finds* the true box it overlaps most. Class-split
rows (SoftWBF and its kin) are merged first, so each fused box counts once.
Pure numpy, like the fusion it scores.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import List, Sequence

import numpy as np

from mmmulti.fusion.geometry import box_iou
from mmmulti.structures import FusedBoxes, ImageReads


@dataclass
class TargetQuality:
    """Training targets of one method against the truth (see the module)."""

    method: str
    boxes: int                 # fused boxes (class-split rows merged)
    real: int                  # of them, overlapping a true box
    weight_on_spurious: float  # share of the summed confidence on non-real boxes
    recall: float              # true boxes found by some fused box
    class_accuracy: float      # real boxes whose (majority) class is the true one
    mean_iou: float            # real boxes' IoU with the true box they find

    @property
    def precision(self) -> float:
        return self.real / self.boxes if self.boxes else float('nan')

    def as_dict(self) -> dict:
        return dict(asdict(self), precision=self.precision)


def target_quality(method: str, fused: Sequence[FusedBoxes], truth: Sequence[ImageReads],
                   iou_thr: float = 0.4) -> TargetQuality:
    """Score one method's fused targets (``fused``) against ``truth``, image by image."""
    if len(fused) != len(truth):
        raise ValueError(f'{method}: {len(fused)} fused images but {len(truth)} truth images')
    boxes = real = found = total = right = 0
    weight = spurious_weight = iou_sum = 0.0
    for f, t in zip(fused, truth):
        f = f.merged_class_split()
        total += len(t)
        boxes += len(f)
        weight += float(f.confidences.sum())
        if not len(f):
            continue
        if not len(t):
            spurious_weight += float(f.confidences.sum())
            continue
        iou = box_iou(f.boxes.astype(np.float64), t.boxes)
        best = iou.argmax(1)
        best_iou = iou[np.arange(len(f)), best]
        is_real = best_iou >= iou_thr
        real += int(is_real.sum())
        right += int((f.labels[is_real] == t.labels[best[is_real]]).sum())
        iou_sum += float(best_iou[is_real].sum())
        spurious_weight += float(f.confidences[~is_real].sum())
        found += len(set(best[is_real].tolist()))
    return TargetQuality(
        method=method, boxes=boxes, real=real,
        weight_on_spurious=spurious_weight / weight if weight else float('nan'),
        recall=found / total if total else float('nan'),
        class_accuracy=right / real if real else float('nan'),
        mean_iou=iou_sum / real if real else float('nan'))


def format_table(rows: List[TargetQuality]) -> str:
    """The scores as a markdown table, one row per method."""
    lines = ['| method | boxes | precision | weight on spurious | recall | class accuracy '
             '| mean IoU |', '|---|---|---|---|---|---|---|']
    for q in rows:
        lines.append(f'| {q.method} | {q.boxes} | {q.precision:.3f} | '
                     f'{q.weight_on_spurious:.3f} | {q.recall:.3f} | {q.class_accuracy:.3f} '
                     f'| {q.mean_iou:.3f} |')
    return '\n'.join(lines)


__all__ = ['TargetQuality', 'target_quality', 'format_table']
