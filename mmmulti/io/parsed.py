"""The parsed form of a multi-reader COCO file, shared by reading and writing.

Three kinds of file are read (see :mod:`mmmulti.io.reading`); the boxes of
the two kinds without reader ids get a fixed reader id, so that every
downstream step sees readers.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List

import numpy as np

from mmmulti.structures import ImageReads

from .drops import DropReport

#: reader id of every box of a clean single-truth file
SINGLE_TRUTH_READER = 'truth'
#: reader id of every box of a fused file
FUSED_READER = 'fused'
#: annotation key of a fused box's confidence c (``score`` in files of earlier versions)
CONFIDENCE_KEY = 'confidence'
LEGACY_CONFIDENCE_KEY = 'score'


@dataclass
class MultiReaderCoco:
    """A parsed multi-reader COCO file.

    ``images[i]``, ``reads[i]``, ``ann_ids[i]``, ``confidences[i]`` and
    ``agreements[i]`` describe the same image; the last four are aligned box
    by box. Labels are indices into ``cat_ids`` (the order of ``categories``
    in the file).
    """

    source: str
    kind: str                                  # 'multi_reader' | 'fused' | 'single_truth'
    images: List[dict]                         # id, file_name, width, height, readers (+extra)
    categories: List[dict]
    cat_ids: List[int]
    reads: List[ImageReads]
    ann_ids: List[np.ndarray]                  # (N,) int64 annotation id per box
    confidences: List[np.ndarray]              # (N,) float32, 'confidence' or 1.0
    agreements: List[np.ndarray]               # (N,) int64, 'agreement' or 1
    drops: DropReport
    reader_key: str = 'reader'
    info: dict = field(default_factory=dict)

    @property
    def readers(self) -> List[str]:
        """Every reader id met in the file, sorted."""
        found = set()
        for img in self.images:
            found.update(img['readers'])
        for r in self.reads:
            found.update(r.readers.tolist())
        return sorted(found)

    @property
    def num_boxes(self) -> int:
        return int(sum(len(r) for r in self.reads))

    @property
    def class_names(self) -> List[str]:
        return [c.get('name', str(c['id'])) for c in self.categories]

    def __len__(self) -> int:
        return len(self.images)


__all__ = ['MultiReaderCoco', 'SINGLE_TRUTH_READER', 'FUSED_READER', 'CONFIDENCE_KEY',
           'LEGACY_CONFIDENCE_KEY']
