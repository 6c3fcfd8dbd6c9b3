"""The data contracts of truth inference (numpy only).

``ImageReads`` is what the readers drew on one image; ``FusedBoxes`` is the
inferred truth, each box carrying the readers' agreement as a confidence.
Both :mod:`mmmulti.io` (reading and writing them) and :mod:`mmmulti.fusion`
(turning one into the other) depend on this module, and it on neither.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np


@dataclass
class ImageReads:
    """All readers' boxes on one image.

    ``image_readers`` lists every reader who read the image, including those
    who drew nothing there (absent votes); ``R = len(image_readers)`` is the
    denominator of the agreement confidence. ``scores`` is optional: reader
    boxes have none (treated as 1); model predictions fused at test time do.
    """

    boxes: np.ndarray            # (N, 4) float, absolute xyxy pixels
    labels: np.ndarray           # (N,) int, 0-based contiguous category index
    readers: np.ndarray          # (N,) object, reader id of each box
    image_readers: list          # readers who read the image (R = len)
    width: float
    height: float
    scores: Optional[np.ndarray] = None   # (N,) float or None (all 1)

    def __post_init__(self) -> None:
        self.boxes = np.asarray(self.boxes, dtype=np.float64).reshape(-1, 4)
        self.labels = np.asarray(self.labels, dtype=np.int64).reshape(-1)
        self.readers = np.asarray(self.readers, dtype=object).reshape(-1)
        self.image_readers = list(self.image_readers)
        n = len(self.boxes)
        if len(self.labels) != n or len(self.readers) != n:
            raise ValueError(f'ImageReads: {n} boxes but {len(self.labels)} labels '
                             f'and {len(self.readers)} readers')
        if self.scores is not None:
            self.scores = np.asarray(self.scores, dtype=np.float64).reshape(-1)
            if len(self.scores) != n:
                raise ValueError(f'ImageReads: {n} boxes but {len(self.scores)} scores')

    @property
    def num_readers(self) -> int:
        """R: how many readers read the image (absent votes included)."""
        return len(self.image_readers)

    def __len__(self) -> int:
        return len(self.boxes)

    def box_scores(self) -> np.ndarray:
        """Per-box scores, 1 where the reads carry none."""
        if self.scores is None:
            return np.ones(len(self.boxes), dtype=np.float64)
        return self.scores


@dataclass
class FusedBoxes:
    """The inferred truth of one image: boxes with agreement confidences."""

    boxes: np.ndarray        # (M, 4) float32 absolute xyxy
    labels: np.ndarray       # (M,) int64
    confidences: np.ndarray  # (M,) float32, confidence c in (0, 1] (EARL weight)
    agreement: np.ndarray    # (M,) int64, readers agreeing (count)

    def __post_init__(self) -> None:
        self.boxes = np.asarray(self.boxes, dtype=np.float32).reshape(-1, 4)
        self.labels = np.asarray(self.labels, dtype=np.int64).reshape(-1)
        self.confidences = np.asarray(self.confidences, dtype=np.float32).reshape(-1)
        self.agreement = np.asarray(self.agreement, dtype=np.int64).reshape(-1)
        n = len(self.boxes)
        if not (len(self.labels) == len(self.confidences) == len(self.agreement) == n):
            raise ValueError('FusedBoxes: boxes, labels, confidences and agreement '
                             'must have the same length')

    @classmethod
    def empty(cls) -> 'FusedBoxes':
        return cls(np.zeros((0, 4)), np.zeros(0), np.zeros(0), np.zeros(0))

    def __len__(self) -> int:
        return len(self.boxes)

    def merged_class_split(self) -> 'FusedBoxes':
        """One row per fused box (majority class, summed confidence) of
        class-split rows (``SoftWBF``: :func:`merge_class_split_rows`)."""
        keep, labels, conf, _, _ = merge_class_split_rows(
            self.boxes, self.labels, self.confidences, self.agreement,
            np.zeros(len(self), dtype=bool))
        return FusedBoxes(self.boxes[keep], labels, conf, self.agreement[keep])

    def equals(self, other: 'FusedBoxes') -> bool:
        """Exact equality (same boxes, in the same order)."""
        return (np.array_equal(self.boxes, other.boxes)
                and np.array_equal(self.labels, other.labels)
                and np.array_equal(self.confidences, other.confidences)
                and np.array_equal(self.agreement, other.agreement))


def class_split_groups(boxes: np.ndarray, agreements: np.ndarray,
                       ignore: np.ndarray) -> np.ndarray:
    """Start index of every group of consecutive identical rows."""
    n = len(boxes)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    same = np.ones(n, dtype=bool)
    same[0] = False
    if n > 1:
        same[1:] = ((boxes[1:] == boxes[:-1]).all(axis=1)
                    & (agreements[1:] == agreements[:-1]) & (ignore[1:] == ignore[:-1]))
    return np.flatnonzero(~same)


def merge_class_split_rows(
        boxes: np.ndarray, labels: np.ndarray, confidences: np.ndarray,
        agreements: np.ndarray, ignore: np.ndarray
) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Merge class-split rows into one row per box.

    Returns ``(keep, labels, confidences, share_labels, shares)``: ``keep`` indexes
    the first row of each group (its box, agreement and ignore flag stand for
    the group); ``labels`` is the class of the largest share (the first on a
    tie), ``confidences`` the group's sum, and ``share_labels`` / ``shares``
    (n, K) the group's classes and their shares of its confidence.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    conf = np.asarray(confidences, dtype=np.float32).reshape(-1)
    agreements = np.asarray(agreements, dtype=np.int64).reshape(-1)
    ignore = np.asarray(ignore).reshape(-1)
    starts = class_split_groups(boxes, agreements, ignore)
    ends = np.append(starts[1:], len(boxes))
    k = int((ends - starts).max()) if len(starts) else 1
    share_labels = np.full((len(starts), k), -1, dtype=np.int64)
    shares = np.zeros((len(starts), k), dtype=np.float32)
    out_labels = np.zeros(len(starts), dtype=np.int64)
    out_conf = np.zeros(len(starts), dtype=np.float32)
    for g, (s, e) in enumerate(zip(starts, ends)):
        c = conf[s:e].astype(np.float64)
        total = c.sum()
        share = c / total if total > 0 else np.full(e - s, 1.0 / (e - s))
        share_labels[g, :e - s] = labels[s:e]
        shares[g, :e - s] = share
        out_labels[g] = labels[s + int(np.argmax(c))]
        out_conf[g] = total
    return starts, out_labels, out_conf, share_labels, shares


__all__ = ['ImageReads', 'FusedBoxes', 'class_split_groups', 'merge_class_split_rows']
