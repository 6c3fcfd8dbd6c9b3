"""Baselines without fusion: every reader's box, or one reader's boxes."""
from __future__ import annotations

import numpy as np

from .registry import FUSION_METHODS
from .base import BaseFusion, FusedBoxes, ImageReads


@FUSION_METHODS.register_module()
class AllBoxes(BaseFusion):
    """The *all-boxes* baseline: every reader's box is a target of weight 1.

    Confidence 1 and agreement 1 for every box; no box is merged.
    """

    def fuse(self, reads: ImageReads) -> FusedBoxes:
        n = len(reads)
        return FusedBoxes(reads.boxes, reads.labels, np.ones(n), np.ones(n))


@FUSION_METHODS.register_module()
class SingleReader(BaseFusion):
    """The *single reader* baseline: only ``reader``'s boxes, confidence 1.

    Images that ``reader`` did not read get no boxes; to drop such images
    from training, load the file with ``readers=[reader]`` and skip images
    whose reader list is empty.
    """

    def __init__(self, reader: str, progress: bool = True) -> None:
        super().__init__(progress=progress)
        if reader is None or str(reader) == '':
            raise ValueError('SingleReader needs a reader id')
        self.reader = str(reader)

    def fuse(self, reads: ImageReads) -> FusedBoxes:
        m = reads.readers == self.reader
        n = int(m.sum())
        return FusedBoxes(reads.boxes[m], reads.labels[m], np.ones(n), np.ones(n))
