"""Human-readable summary of a fusion run (used by tools/fuse_annotations.py)."""
from __future__ import annotations

from collections import Counter
from typing import Sequence

from .base import FusedBoxes, ImageReads


def agreement_histogram(reads: Sequence[ImageReads], fused: Sequence[FusedBoxes]) -> Counter:
    """Fused boxes counted by (agreement, R) of their image."""
    hist: Counter = Counter()
    for r, f in zip(reads, fused):
        R = r.num_readers
        for a in f.agreement.tolist():
            hist[(int(a), R)] += 1
    return hist


def fusion_summary(reads: Sequence[ImageReads], fused: Sequence[FusedBoxes],
                   method, seconds: float, drops=None, width: int = 40) -> str:
    """The lines printed after fusing a file: sizes, drops, agreement, time."""
    n_in = sum(len(r) for r in reads)
    n_out = sum(len(f) for f in fused)
    readers = sorted({x for r in reads for x in r.image_readers})
    no_reader = sum(1 for r in reads if r.num_readers == 0)
    lines = [f'method      : {method!r}',
             f'images      : {len(reads)}' + (f' ({no_reader} read by none of the selected '
                                               f'readers)' if no_reader else ''),
             f'readers     : {len(readers)} ({", ".join(readers[:10])}'
             f'{", ..." if len(readers) > 10 else ""})',
             f'boxes in    : {n_in}',
             f'boxes out   : {n_out}']
    if drops is not None:
        lines.append(str(drops))
    hist = agreement_histogram(reads, fused)
    if hist:
        lines.append('agreement (fused boxes by readers agreeing / readers of the image):')
        top = max(hist.values())
        for (a, R), n in sorted(hist.items(), key=lambda kv: (kv[0][1], kv[0][0])):
            bar = '#' * max(1, round(width * n / top))
            lines.append(f'  {a}/{R}  c={a / R:4.2f}  {n:>8d}  {bar}')
    lines.append(f'seconds     : {seconds:.2f}')
    return '\n'.join(lines)
