"""Human-readable summary of a fusion run (used by tools/fuse_annotations.py)."""
from __future__ import annotations

from collections import defaultdict
from typing import Dict, Iterable, List, Sequence, Tuple

from .base import EMTrace, FusedBoxes, ImageReads, em_fits


class AgreementHistogram:
    """Fused boxes counted by (agreement a, readers R of their image).

    Each bin also keeps the mean confidence of its boxes: it is a/R for WBF,
    1 for AllBoxes and reader-weighted for ReliabilityWBF, so the printed
    value is the EARL weight the boxes really carry, not a formula.
    """

    def __init__(self) -> None:
        self.count: Dict[Tuple[int, int], int] = defaultdict(int)
        self.conf_sum: Dict[Tuple[int, int], float] = defaultdict(float)

    def add(self, readers: int, agreements: Iterable[int], confidences: Iterable[float]) -> None:
        for a, c in zip(agreements, confidences):
            self.count[(int(a), readers)] += 1
            self.conf_sum[(int(a), readers)] += float(c)

    def total(self) -> int:
        return sum(self.count.values())

    def has_agreement(self) -> bool:
        """True when some box is backed by other than exactly one reader."""
        return any(a != 1 for a, _ in self.count)

    def lines(self, indent: str = '  ', width: int = 40) -> List[str]:
        if not self.count:
            return []
        top = max(self.count.values())
        out = []
        for (a, R), n in sorted(self.count.items(), key=lambda kv: (kv[0][1], kv[0][0])):
            c = self.conf_sum[(a, R)] / n
            bar = '#' * max(1, round(width * n / top))
            out.append(f'{indent}{a}/{R}  c={c:4.2f}  {n:>8d}  {bar}')
        return out


def agreement_histogram(reads: Sequence[ImageReads],
                        fused: Sequence[FusedBoxes]) -> AgreementHistogram:
    """Fused boxes counted by (agreement, R) of their image, with mean confidence."""
    hist = AgreementHistogram()
    for r, f in zip(reads, fused):
        hist.add(r.num_readers, f.agreement.tolist(), f.confidences.tolist())
    return hist


def fusion_summary(reads: Sequence[ImageReads], fused: Sequence[FusedBoxes],
                   method, seconds: float, drops=None, width: int = 40) -> str:
    """The lines printed after fusing a file: sizes, drops, agreement, time."""
    n_in = sum(len(r) for r in reads)
    if getattr(method, 'splits_classes', False):
        # class-split rows (SoftWBF, DawidSkeneWBF): count and show fused boxes
        fused = [f.merged_class_split() for f in fused]
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
    lines += dropped_cluster_lines(method)
    hist = agreement_histogram(reads, fused)
    if hist.total():
        lines.append('agreement (fused boxes by readers agreeing / readers of the image; '
                     'c = mean confidence):')
        lines += hist.lines('  ', width)
    lines += em_lines(method)
    lines.append(f'seconds     : {seconds:.2f}')
    return '\n'.join(lines)


def dropped_cluster_lines(method) -> List[str]:
    """For a method that drops clusters (``dropped`` of ``clusters``, e.g.
    PresenceWBF with min_confidence > 0): the total and, when it keeps them,
    the drops per agreement level (``dropped_by_agreement``, (a, R) -> n)."""
    dropped, clusters = getattr(method, 'dropped', None), getattr(method, 'clusters', None)
    if not isinstance(dropped, int) or not isinstance(clusters, int) or not clusters:
        return []
    if not dropped and not getattr(method, 'min_confidence', 0):
        return []
    thr = getattr(method, 'min_confidence', None)
    lines = [f'clusters    : {clusters}, {dropped} dropped'
             + (f' (posterior below {thr:g})' if thr is not None else '')]
    by = getattr(method, 'dropped_by_agreement', None)
    if by:
        lines.append('dropped clusters by agreement: ' + ', '.join(
            f'{a}/{r}: {n}' for (a, r), n in sorted(by.items(), key=lambda kv: kv[0][::-1])))
    return lines


def em_lines(method) -> List[str]:
    """How the method's EM fits ended, for anything with a non-None ``em``."""
    out = []
    for label, em in em_fits(getattr(method, 'em', None)):
        trace = EMTrace.from_dict(em)
        out.append(f'{label:<12s}: {trace.describe()}')
    return out
