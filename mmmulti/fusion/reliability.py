"""WBF with reader reliabilities estimated from the data (EM).

Readers differ: some draw boxes others would not, some miss findings, some
draw loosely. ``ReliabilityWBF`` alternates

* E-step: fuse every image with WBF, reader ``r`` weighted by ``p_r``;
* M-step: score each reader against the consensus of the *other* readers and
  set ``p_r`` from that score,

starting from plain WBF (all ``p_r = 1``) until no weight moves by more than
``tol`` or ``max_iter`` rounds have run.

Leave-one-out scoring: a reader's box must not confirm itself, else with two
readers every box would be "consensus". For a WBF cluster C on an image read
by R >= 2 readers, and a reader r of that image, the *support* of the others is

    s(C, r) = sum of p_q over readers q != r with a box in C
              / sum of p_q over readers q != r of the image      (in [0, 1]).

The support is used as a soft vote (a hard "majority of the others" would
flip on tiny weight differences and make EM oscillate):

* precision_r = sum over r's boxes of s(C(box), r) / number of r's boxes
  (images with R >= 2);
* recall_r = sum of s(C, r) over clusters holding a box of r
  / sum of s(C, r) over all clusters of the images r read;
* mean_iou_r = support-weighted mean IoU of r's boxes with the (p-weighted)
  mean box of the other readers' boxes in their cluster.

Weight: ``p_r = F1_r * mean_iou_r`` (``weight_formula='f1_iou'``, default)
or ``p_r = F1_r`` (``'f1'``). Why: p_r plays two roles in WBF. As a vote it
should reward a reader whose boxes are real (precision) *and* whose silence
means absence (recall); F1 penalises both the reader who marks everything and
the one who marks nothing, which precision alone or recall alone would not.
As a coordinate weight it should reward tight boxes, hence the IoU factor.
Weights are scaled so the largest is 1 and floored at ``min_weight`` (WBF
divides by the weights of a cluster); a reader never scored (never read an
image with another reader) gets the median weight.

Confidence of a fused box = sum of p_r of the distinct readers with a box in
its cluster / sum of p_r of the image's readers (with all p_r equal this is
readers/R); ``agreement`` is the count of those distinct readers, as in WBF.
"""
from __future__ import annotations

from collections import Counter, OrderedDict
from typing import Dict, List, Optional, Sequence

import numpy as np

from .registry import FUSION_METHODS
from .base import EMTrace, FusedBoxes, ImageReads, em_report_lines, warn_not_converged
from .geometry import pair_iou
from .wbf import WBF
from .weighted_boxes import WeightedBoxes


@FUSION_METHODS.register_module()
class ReliabilityWBF(WBF):
    """WBF whose reader weights are estimated by EM (dataset level).

    Args:
        iou_thr, skip_box_thr, conf_type: as :class:`WBF`.
        max_iter (int): most EM rounds.
        tol (float): stop when no reader weight changes by more than this.
        weight_formula (str): 'f1_iou' (default) or 'f1'.
        min_weight (float): floor of the weights (after scaling to max 1).

    After :meth:`fuse_dataset`, ``reader_estimates`` maps each reader to its
    precision, recall, mean_iou, weight and counts; :meth:`report` prints them.
    ``em`` (``None`` before a fit) is how the EM ended
    (:meth:`~mmmulti.fusion.base.EMTrace.as_dict`; the change is the largest
    reader-weight change of the last round); stopping at ``max_iter`` warns
    (:class:`~mmmulti.fusion.base.EMNotConvergedWarning`).
    """

    # needs the whole data set: FuseAnnotations refuses it per image
    dataset_level = True

    def __init__(self, iou_thr: float = 0.4, skip_box_thr: float = 0.0,
                 conf_type: str = 'avg', max_iter: int = 10, tol: float = 1e-3,
                 weight_formula: str = 'f1_iou',
                 min_weight: float = 0.05, progress: bool = True) -> None:
        super().__init__(iou_thr=iou_thr, skip_box_thr=skip_box_thr, conf_type=conf_type,
                         progress=progress)
        if not min_weight > 0:
            raise ValueError(f'min_weight must be > 0 (WBF divides by weights), got {min_weight}')
        if weight_formula not in ('f1_iou', 'f1'):
            raise ValueError(f"weight_formula must be 'f1_iou' or 'f1', got {weight_formula!r}")
        self.max_iter = int(max_iter)
        self.tol = float(tol)
        self.weight_formula = weight_formula
        self.min_weight = float(min_weight)
        self.reader_estimates: Dict[str, dict] = OrderedDict()
        self.iterations = 0
        self.em: Optional[dict] = None

    # -- confidence ----------------------------------------------------------------
    def _confidence(self, reads: ImageReads, fused: WeightedBoxes,
                    conf: np.ndarray) -> np.ndarray:
        w = self._weights(reads.image_readers)
        pos = {r: t for t, r in enumerate(reads.image_readers)}
        total = float(sum(w))
        out = np.empty(len(fused), dtype=np.float64)
        for k, members in enumerate(fused.members):
            present = {pos[reads.readers[i]] for i in members}
            out[k] = sum(w[t] for t in present) / total
        return np.clip(out, np.finfo(np.float32).tiny, 1.0)

    # -- EM ------------------------------------------------------------------------
    def fuse_dataset(self, reads: Sequence[ImageReads]) -> List[FusedBoxes]:
        reads = list(reads)
        all_readers = sorted({r for x in reads for r in x.image_readers})
        self.reader_weights = {r: 1.0 for r in all_readers}
        show, self.progress = self.progress, False
        trace = EMTrace(converged=False, max_iter=self.max_iter, tol=self.tol)
        try:
            for it in range(1, self.max_iter + 1):
                members = self.fuse_dataset_members(reads)
                est = self.estimate(reads, members)
                new = self._new_weights(est, all_readers)
                delta = max((abs(new[r] - self.reader_weights[r]) for r in all_readers),
                            default=0.0)
                self.reader_weights = new
                self.iterations = it
                trace.iterations, trace.delta = it, float(delta)
                if show:
                    print(f'ReliabilityWBF round {it}: max weight change {delta:.4f}')
                if delta < self.tol:
                    trace.converged = True
                    break
            self.em = trace.as_dict()
            if not trace.converged:
                warn_not_converged('ReliabilityWBF reader-weight EM', trace)
            members = self.fuse_dataset_members(reads)
            est = self.estimate(reads, members)
            for r in all_readers:
                est[r]['weight'] = self.reader_weights[r]
            self.reader_estimates = est
        finally:
            self.progress = show
        return [self._finish(r, m) for r, m in zip(reads, members)]

    def estimate(self, reads: Sequence[ImageReads],
                 members: Sequence[WeightedBoxes]) -> Dict[str, dict]:
        """Leave-one-out precision, recall and mean IoU of every reader."""
        stats: Dict[str, dict] = OrderedDict()
        for r in sorted({r for x in reads for r in x.image_readers}):
            stats[r] = dict(boxes=0, images=0, confirmed=0.0, findings=0.0, found=0.0, iou_sum=0.0)
        for x, fused in zip(reads, members):
            R = x.num_readers
            if R < 2:
                continue
            w = self._weights(x.image_readers)
            pos = {r: t for t, r in enumerate(x.image_readers)}
            total = float(sum(w))
            boxes = x.boxes.tolist()
            box_reader = [pos[r] for r in x.readers.tolist()]
            drawn = Counter(box_reader)
            # members of each cluster, grouped by reader index
            clusters = []
            for cluster in fused.members:
                by_reader: Dict[int, list] = {}
                for i in cluster.tolist():
                    by_reader.setdefault(box_reader[i], []).append(i)
                clusters.append(by_reader)
            for t, r in enumerate(x.image_readers):
                st = stats[r]
                st['boxes'] += drawn.get(t, 0)
                st['images'] += 1
                others_total = total - w[t]
                for by_reader in clusters:
                    # support of the other readers for this cluster, in [0, 1]
                    support = sum(w[s] for s in by_reader if s != t) / others_total
                    if support <= 0:
                        continue
                    st['findings'] += support
                    mine = by_reader.get(t)
                    if not mine:
                        continue
                    st['found'] += support
                    st['confirmed'] += support * len(mine)
                    ref = _weighted_mean([boxes[i] for s, idx in by_reader.items() if s != t
                                          for i in idx],
                                         [w[s] for s, idx in by_reader.items() if s != t
                                          for _ in idx])
                    st['iou_sum'] += support * sum(pair_iou(boxes[i], ref) for i in mine)
        out: Dict[str, dict] = OrderedDict()
        for r, st in stats.items():
            prec = st['confirmed'] / st['boxes'] if st['boxes'] else float('nan')
            rec = st['found'] / st['findings'] if st['findings'] else float('nan')
            miou = st['iou_sum'] / st['confirmed'] if st['confirmed'] else float('nan')
            out[r] = dict(precision=prec, recall=rec, mean_iou=miou, boxes=st['boxes'],
                          findings=st['findings'], confirmed=st['confirmed'],
                          images=st['images'],
                          weight=self.reader_weights.get(r, 1.0) if self.reader_weights
                          else 1.0)
        return out

    def _new_weights(self, est: Dict[str, dict], readers: List[str]) -> Dict[str, float]:
        raw: Dict[str, Optional[float]] = {}
        for r in readers:
            e = est[r]
            p, rc = e['precision'], e['recall']
            if np.isnan(p) and np.isnan(rc):
                raw[r] = None           # never scored
                continue
            p = 0.0 if np.isnan(p) else p       # scored on findings, drew nothing
            rc = 0.0 if np.isnan(rc) else rc    # drew boxes, no finding to recall
            f1 = 2 * p * rc / (p + rc) if p + rc > 0 else 0.0
            miou = e['mean_iou'] if not np.isnan(e['mean_iou']) else 0.0
            raw[r] = f1 * miou if self.weight_formula == 'f1_iou' else f1
        scored = [v for v in raw.values() if v is not None]
        top = max(scored) if scored and max(scored) > 0 else 1.0
        fill = float(np.median(scored)) / top if scored else 1.0
        return {r: max(self.min_weight, (v / top) if v is not None else fill)
                for r, v in raw.items()}

    def report(self) -> str:
        """The reader estimates as a printable table."""
        if not self.reader_estimates:
            return 'ReliabilityWBF: not fitted (call fuse_dataset first)'
        lines = [f'reader reliability (EM, {self.iterations} round(s), '
                 f'weight = {"F1 x mean IoU" if self.weight_formula == "f1_iou" else "F1"})']
        lines += em_report_lines('reader-weight EM', self.em)
        lines += [f'{"reader":<12s} {"boxes":>7s} {"precision":>9s} {"recall":>7s} '
                  f'{"mean IoU":>8s} {"weight":>7s}']
        for r, e in self.reader_estimates.items():
            lines.append(f'{r:<12s} {e["boxes"]:>7d} {e["precision"]:>9.3f} '
                         f'{e["recall"]:>7.3f} {e["mean_iou"]:>8.3f} {e["weight"]:>7.3f}')
        return '\n'.join(lines)


def _weighted_mean(boxes: list, weights: list) -> list:
    total = sum(weights)
    return [sum(b[k] * w for b, w in zip(boxes, weights)) / total for k in range(4)]
