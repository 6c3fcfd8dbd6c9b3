"""Data types of truth inference and the base class of every fusion method.

Pure numpy: fusion runs before any model exists, so it must not pull in torch
or mmdet. ``ImageReads`` is what the readers drew on one image; ``FusedBoxes``
is the inferred truth, each box carrying the readers' agreement as confidence.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterable, List, Optional, Sequence

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
    scores: np.ndarray       # (M,) float32, confidence in (0, 1]
    agreement: np.ndarray    # (M,) int64, readers agreeing (count)

    def __post_init__(self) -> None:
        self.boxes = np.asarray(self.boxes, dtype=np.float32).reshape(-1, 4)
        self.labels = np.asarray(self.labels, dtype=np.int64).reshape(-1)
        self.scores = np.asarray(self.scores, dtype=np.float32).reshape(-1)
        self.agreement = np.asarray(self.agreement, dtype=np.int64).reshape(-1)
        n = len(self.boxes)
        if not (len(self.labels) == len(self.scores) == len(self.agreement) == n):
            raise ValueError('FusedBoxes: boxes, labels, scores and agreement '
                             'must have the same length')

    @classmethod
    def empty(cls) -> 'FusedBoxes':
        return cls(np.zeros((0, 4)), np.zeros(0), np.zeros(0), np.zeros(0))

    def __len__(self) -> int:
        return len(self.boxes)

    def equals(self, other: 'FusedBoxes') -> bool:
        """Exact equality (same boxes, in the same order)."""
        return (np.array_equal(self.boxes, other.boxes)
                and np.array_equal(self.labels, other.labels)
                and np.array_equal(self.scores, other.scores)
                and np.array_equal(self.agreement, other.agreement))


def default_workers() -> int:
    """min(number of usable CPUs, 8)."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - non-Linux
        n = os.cpu_count() or 1
    return max(1, min(n, 8))


def progress(iterable: Iterable, total: int, desc: str, enabled: bool) -> Iterable:
    """A tqdm bar over ``iterable`` when enabled (long runs must show progress)."""
    if not enabled:
        return iterable
    from tqdm import tqdm
    return tqdm(iterable, total=total, desc=desc, unit='img', mininterval=0.5)


class BaseFusion:
    """Fuses the readers' boxes of an image into one set of boxes.

    Subclasses implement :meth:`fuse`. :meth:`fuse_dataset` maps it over a data
    set; dataset-level methods (reader reliability) override it.

    Args:
        progress (bool): show a progress bar in :meth:`fuse_dataset` when the
            data set has more than ``progress_min`` images.
    """

    progress_min = 2000

    def __init__(self, progress: bool = True) -> None:
        self.progress = progress

    def fuse(self, reads: ImageReads) -> FusedBoxes:
        raise NotImplementedError

    def fuse_dataset(self, reads: Sequence[ImageReads]) -> List[FusedBoxes]:
        it = progress(reads, len(reads), type(self).__name__,
                      self.progress and len(reads) > self.progress_min)
        return [self.fuse(r) for r in it]

    def config(self) -> dict:
        """The method's settings, as written to ``info.fusion`` of a fused COCO."""
        cfg = dict(type=type(self).__name__)
        for k, v in vars(self).items():
            if k.startswith('_') or k in ('progress', 'reader_estimates'):
                continue
            if isinstance(v, (int, float, str, bool, type(None), list, tuple, dict)):
                cfg[k] = v
        return cfg

    def __repr__(self) -> str:
        args = ', '.join(f'{k}={v!r}' for k, v in self.config().items() if k != 'type')
        return f'{type(self).__name__}({args})'


def agreement_confidence(count: np.ndarray, num_readers: int) -> tuple:
    """c = min(count, R) / R and the capped count (the paper's definition);
    ``count`` is the distinct readers agreeing (:func:`distinct_readers`)."""
    count = np.asarray(count, dtype=np.int64)
    if num_readers <= 0:
        return np.zeros(len(count), np.float32), count
    capped = np.minimum(count, num_readers)
    return (capped / num_readers).astype(np.float32), capped


def distinct_readers(reads: ImageReads, members: Sequence[Sequence[int]]) -> np.ndarray:
    """Agreement of each cluster: the distinct readers among its member boxes.

    Counting boxes instead would let one reader who drew a finding twice (a
    duplicated CSV row, two overlapping boxes) vote twice for it.
    """
    who = reads.readers
    return np.array([len({who[i] for i in m}) for m in members], dtype=np.int64)


__all__ = ['ImageReads', 'FusedBoxes', 'BaseFusion', 'agreement_confidence',
           'distinct_readers', 'default_workers', 'progress']
