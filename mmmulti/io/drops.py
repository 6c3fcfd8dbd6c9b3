"""Boxes left out while a multi-reader COCO file is loaded, counted per reason.

Nothing is dropped silently: every box the loader does not keep is counted
here with a few example records, and the tools and the data set print it.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Dict, List

#: Reasons a box is dropped, in the order they are checked.
DROP_REASONS = ('nan', 'x2<x1', 'y2<y1', 'zero_area', 'out_of_image', 'iscrowd',
                'duplicate')


@dataclass
class DropReport:
    """Boxes dropped while loading, counted per reason, with a few examples.

    ``clipped`` counts boxes partly outside their image that were clipped to
    it (kept, not dropped).
    """

    counts: Dict[str, int] = field(
        default_factory=lambda: OrderedDict((r, 0) for r in DROP_REASONS))
    examples: Dict[str, List[str]] = field(
        default_factory=lambda: OrderedDict((r, []) for r in DROP_REASONS))
    clipped: int = 0
    clipped_examples: List[str] = field(default_factory=list)
    max_examples: int = 5

    def add(self, reason: str, record: str) -> None:
        self.counts[reason] = self.counts.get(reason, 0) + 1
        ex = self.examples.setdefault(reason, [])
        if len(ex) < self.max_examples:
            ex.append(record)

    def add_clipped(self, record: str) -> None:
        self.clipped += 1
        if len(self.clipped_examples) < self.max_examples:
            self.clipped_examples.append(record)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def as_dict(self) -> dict:
        return dict(dropped=dict(self.counts), clipped=self.clipped)

    def __str__(self) -> str:
        lines = [f'dropped boxes: {self.total}']
        for reason, n in self.counts.items():
            if n:
                lines.append(f'  {reason:<13s} {n:>7d}   e.g. '
                             + '; '.join(self.examples.get(reason, [])[:3]))
        lines.append(f'clipped to the image (kept): {self.clipped}')
        if self.clipped:
            lines.append('  e.g. ' + '; '.join(self.clipped_examples[:3]))
        return '\n'.join(lines)


__all__ = ['DROP_REASONS', 'DropReport']
