"""How much each reader agrees with the fused consensus and with every other reader.

Per reader: precision (share of the reader's boxes that match a consensus box
of the same class at IoU >= ``iou_thr``), recall (share of the consensus boxes,
on the images the reader read, that the reader matched) and the mean IoU of
the matches. Per pair of readers, on the images both read: F1 of their boxes
(2 x matched pairs / (boxes of A + boxes of B)). Matching is greedy one-to-one,
same class only (:func:`mmmulti.analysis.matching.match_boxes`).

The consensus is the fusion of all readers, so a reader's own boxes are part
of it: against all consensus boxes every reader's precision is close to 1.
``min_agreement`` keeps only consensus boxes that at least that many readers
support; the file-level entry point defaults to 2 (with three readers, the
majority), which drops boxes a single reader vouches for.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Optional, Sequence

import numpy as np

from mmmulti.converters.vindr_cxr import reader_sort_key
from mmmulti.utils.atomic import dump_json_atomic
from .matching import match_boxes


@dataclass
class ReaderStats:
    """One reader against the consensus."""

    reader: str
    images: int = 0            # images the reader read
    boxes: int = 0             # boxes the reader drew
    consensus_boxes: int = 0   # consensus boxes on those images
    matched: int = 0
    iou_sum: float = 0.0

    @property
    def precision(self) -> float:
        return self.matched / self.boxes if self.boxes else float('nan')

    @property
    def recall(self) -> float:
        return self.matched / self.consensus_boxes if self.consensus_boxes else float('nan')

    @property
    def mean_iou(self) -> float:
        return self.iou_sum / self.matched if self.matched else float('nan')


@dataclass
class AgreementReport:
    """Per-reader and pairwise agreement of a multi-reader data set."""

    readers: list
    per_reader: list
    pair_f1: np.ndarray             # (R, R), NaN where the pair shares no box
    pair_matched: np.ndarray        # (R, R) int
    pair_images: np.ndarray         # (R, R) int, images read by both
    iou_thr: float
    method: str = ''
    min_agreement: int = 1
    extra: dict = field(default_factory=dict)

    def format(self) -> str:
        """Both tables as text."""
        w = max([len(r) for r in self.readers] + [6])
        lines = [f'Readers vs fused consensus ({self.method}, match IoU >= {self.iou_thr}, '
                 f'same class, consensus agreement >= {self.min_agreement})',
                 f'{"reader":<{w}}  {"images":>7}  {"boxes":>7}  {"consensus":>9}  '
                 f'{"precision":>9}  {"recall":>7}  {"mean IoU":>8}']
        for s in self.per_reader:
            lines.append(f'{s.reader:<{w}}  {s.images:>7d}  {s.boxes:>7d}  '
                         f'{s.consensus_boxes:>9d}  {s.precision:>9.3f}  {s.recall:>7.3f}  '
                         f'{s.mean_iou:>8.3f}')
        lines += ['', f'Pairwise F1 between readers (IoU >= {self.iou_thr}, same class; '
                  f'images read by both in brackets)',
                  ' ' * w + ''.join(f'  {r:>14}' for r in self.readers)]
        for i, a in enumerate(self.readers):
            cells = []
            for j in range(len(self.readers)):
                f1 = self.pair_f1[i, j]
                txt = '-' if np.isnan(f1) else f'{f1:.3f}'
                cells.append(f'  {txt + f" [{self.pair_images[i, j]}]":>14}')
            lines.append(f'{a:<{w}}' + ''.join(cells))
        return '\n'.join(lines)

    def to_dict(self) -> dict:
        def clean(x):
            return None if isinstance(x, float) and np.isnan(x) else x
        return dict(
            method=self.method, iou_thr=self.iou_thr, min_agreement=self.min_agreement,
            readers=list(self.readers),
            per_reader=[dict(asdict(s), precision=clean(s.precision), recall=clean(s.recall),
                             mean_iou=clean(s.mean_iou)) for s in self.per_reader],
            pair_f1=[[clean(float(v)) for v in row] for row in self.pair_f1],
            pair_matched=self.pair_matched.tolist(), pair_images=self.pair_images.tolist(),
            **self.extra)

    def dump(self, path: str) -> None:
        dump_json_atomic(self.to_dict(), path, indent=2)


def reader_agreement(reads: Sequence, fused: Sequence, iou_thr: float = 0.4,
                     readers: Optional[Sequence[str]] = None, min_agreement: int = 1,
                     method: str = '') -> AgreementReport:
    """Agreement of every reader with the consensus ``fused`` and with each other.

    ``reads[i]`` (:class:`~mmmulti.fusion.base.ImageReads`) and ``fused[i]``
    (:class:`~mmmulti.fusion.base.FusedBoxes`) describe the same image.
    """
    if len(reads) != len(fused):
        raise ValueError(f'{len(reads)} images of reads but {len(fused)} fused results')
    if readers is None:
        found = set()
        for r in reads:
            found.update(r.image_readers)
            found.update(r.readers.tolist())
        readers = sorted(found, key=reader_sort_key)
    readers = list(readers)
    index = {r: k for k, r in enumerate(readers)}
    stats = [ReaderStats(r) for r in readers]
    n = len(readers)
    pair_m = np.zeros((n, n), np.int64)
    pair_boxes = np.zeros((n, n), np.int64)
    pair_img = np.zeros((n, n), np.int64)

    for rd, fb in zip(reads, fused):
        keep = fb.agreement >= min_agreement
        cons_boxes, cons_labels = fb.boxes[keep], fb.labels[keep]
        mine = {}
        for r in rd.image_readers:
            if r not in index:
                continue
            sel = rd.readers == r
            mine[r] = (rd.boxes[sel], rd.labels[sel])
            st = stats[index[r]]
            st.images += 1
            st.boxes += int(sel.sum())
            st.consensus_boxes += len(cons_boxes)
            pairs = match_boxes(rd.boxes[sel], rd.labels[sel], cons_boxes, cons_labels,
                                iou_thr)
            st.matched += len(pairs)
            st.iou_sum += sum(p[2] for p in pairs)
        names = list(mine)
        for a_pos, a in enumerate(names):
            i = index[a]
            for b in names[a_pos:]:
                j = index[b]
                if i == j:
                    pair_img[i, i] += 1
                    pair_m[i, i] += len(mine[a][0])
                    pair_boxes[i, i] += 2 * len(mine[a][0])
                    continue
                m = len(match_boxes(*mine[a], *mine[b], iou_thr))
                for x, y in ((i, j), (j, i)):
                    pair_img[x, y] += 1
                    pair_m[x, y] += m
                    pair_boxes[x, y] += len(mine[a][0]) + len(mine[b][0])
    with np.errstate(invalid='ignore', divide='ignore'):
        f1 = np.where(pair_boxes > 0, 2.0 * pair_m / np.maximum(pair_boxes, 1), np.nan)
    return AgreementReport(readers, stats, f1, pair_m, pair_img, float(iou_thr), method,
                           int(min_agreement))


def build_consensus_fusion(method: str = 'wbf', iou_thr: float = 0.4):
    """The fusion method that makes the consensus, with ``iou_thr`` where it has one."""
    from mmmulti.fusion.registry_names import build_fusion
    fusion = build_fusion(method, progress=False)
    if hasattr(fusion, 'iou_thr'):
        fusion = build_fusion(method, iou_thr=iou_thr, progress=False)
    return fusion


def reader_agreement_from_file(ann_file: str, method: str = 'wbf', iou_thr: float = 0.4,
                               fusion_iou_thr: Optional[float] = None,
                               readers: Optional[Sequence[str]] = None,
                               min_agreement: int = 2,
                               reader_key: str = 'reader') -> AgreementReport:
    """Load a multi-reader COCO file, fuse it, and measure the readers' agreement.

    ``iou_thr`` is the matching threshold; the fusion uses ``fusion_iou_thr``
    (default: the same value).
    """
    from mmmulti.io import load_multi_reader_coco
    data = load_multi_reader_coco(ann_file, reader_key=reader_key, readers=readers)
    from mmmulti.io.require import require_readers
    require_readers(data, ann_file, 'compare')
    fusion = build_consensus_fusion(method, iou_thr if fusion_iou_thr is None
                                    else fusion_iou_thr)
    fused = fusion.fuse_dataset(data.reads)
    readers = list(readers) if readers else sorted(data.readers, key=reader_sort_key)
    name = method if not hasattr(fusion, 'iou_thr') else f'{method}, iou_thr={fusion.iou_thr}'
    report = reader_agreement(data.reads, fused, iou_thr, readers, min_agreement,
                              method=name)
    report.extra = dict(source=ann_file, images=len(data), dropped_on_load=data.drops.as_dict())
    return report
