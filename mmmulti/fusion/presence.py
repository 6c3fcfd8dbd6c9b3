"""Soft-label WBF whose confidence is the posterior that a finding is real.

WBF's confidence c = agreement / R counts every reader's box as 1/R of the
evidence that a finding is there, whoever drew it. Whether a box drawn by one
reader only is a finding the others missed or a finding that is not there
depends on the readers: a reader who rarely misses and often adds findings
makes lone boxes mostly spurious; one who misses often and never adds makes
them mostly real. Both rates can be estimated from the data set, the way
Dawid & Skene (1979) estimate class confusions, here for *presence*
(a "two-coin" model per reader):

* each cluster g (class-agnostic WBF, as :class:`~mmmulti.fusion.SoftWBF`)
  on an image read by readers R_i is a real finding (z = 1) or spurious
  (z = 0), with prior P(z = 1) = rho;
* real: every reader r of the image draws it (y_r = 1) with probability s_r
  (its sensitivity), independently; a reader of the image with no box there
  is an absent vote (VinDr-CXR's "No finding" readers included);
* spurious: one reader made it up -- reader r with probability q_r / (sum of
  q over the image's readers) -- and each other reader of the image happens
  to draw a box there with a small probability f. (Independent per-reader
  coins for spurious clusters, Dawid & Skene's two-coin model, let EM
  explain two-reader clusters as "spurious" and real findings as "drawn by
  everyone": a spurious box is one reader's, and two readers rarely invent
  the same one.)
* E-step: P(z = 1 | y) = rho L1 / (rho L1 + (1 - rho) L0), L1 = prod_r
  s_r^y (1 - s_r)^(1 - y), L0 = sum over r with y_r = 1 of q_r / Q_i *
  f^(n - 1) (1 - f)^(R_i - n), n = readers who drew it;
* M-step: rho = mean posterior; s_r = (1 + sum_g post_g y_gr) / (2 + sum_g
  post_g) over the clusters of the images r read; q_r proportional to 1 + the
  spurious clusters r is expected to have made up; f = (1 + expected other
  readers' boxes in spurious clusters) / (2 + their opportunities) -- one
  pseudo-count each way keeps every rate off 0 and 1.

EM starts from the agreement (posterior = c) and stops when no posterior
moves by more than ``tol``. Clusters are never empty -- a finding no reader
drew is never seen -- which the model ignores: s_r is somewhat overestimated
when readers miss a lot; the ordering of the posteriors is what training uses.

Output: the class-split rows of SoftWBF (class target = the readers' vote
shares) with the cluster's posterior as its confidence. Clusters whose
posterior is below ``min_confidence`` (default 0.5: more likely spurious than
real) are dropped, so their place trains as background instead of as a
down-weighted target; the drops are counted in :meth:`report`.

The rest of a reader model is optional: each reader's systematic box bias
undone before fusing (``correct_bias``), its box noise as a coordinate weight
(``precision_weights``), both from :mod:`mmmulti.fusion.reader_bias`, and the
Dawid–Skene class posterior as the class target (``class_target``). All on:
the ``reader_model_earl`` arm.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Dict, List, Optional, Sequence

import numpy as np

from .base import FusedBoxes, ImageReads, agreement_confidence, em_report_lines, run_em
from .reader_bias import compose, correct_reads, estimate_reader_bias, estimate_reader_noise
from .registry import FUSION_METHODS
from .dawid_skene import DawidSkeneWBF
from .soft_wbf import SoftWBF, reader_class_shares
from .weighted_boxes import WeightedBoxes


CLASS_EM_HINT = 'raise class_max_iter (--class-max-iter) or class_tol (--class-tol)'


@FUSION_METHODS.register_module()
class PresenceWBF(SoftWBF):
    """Class-agnostic WBF clusters; confidence = P(real | who drew it), by EM.

    Args:
        iou_thr, skip_box_thr, conf_type: as :class:`~mmmulti.fusion.WBF`.
        max_iter (int): most EM rounds.
        tol (float): stop when no posterior changes by more than this.
        min_confidence (float): clusters whose posterior is below this are
            dropped (0 keeps every cluster with its posterior as weight).
        correct_bias (bool): before the presence EM, estimate every reader's
            systematic box bias against the other readers and undo it
            (:mod:`mmmulti.fusion.reader_bias`), ``bias_rounds`` rounds.
        class_target (str): ``'votes'`` (the readers' vote shares, as SoftWBF)
            or ``'dawid_skene'`` (the Dawid–Skene class posterior, fitted on the
            clusters kept: :class:`~mmmulti.fusion.DawidSkeneWBF`).
        precision_weights (bool): average the coordinates of a cluster with
            reader weights 1 / (the reader's estimated box noise variance),
            scaled to a largest weight of 1 and floored at 0.05.
        class_max_iter, class_tol: the class EM's limits
            (``class_target='dawid_skene'``; DawidSkeneWBF's defaults).

    After :meth:`fuse_dataset`: ``prior`` (rho), ``sensitivity`` (s_r) and
    ``invention`` (q_r, summing to 1) per reader, ``coincidence`` (f),
    ``reader_bias``, ``reader_weights``, ``reader_estimates``, ``clusters``,
    ``dropped`` (clusters below ``min_confidence``),
    ``dropped_by_agreement`` (the drops per (agreement, readers of the image):
    ``{(1, 3): 9350, (2, 3): 12}``, summing to ``dropped``), ``em`` and
    :meth:`report`.

    ``em`` (``None`` before a fit) is how the presence EM ended
    (:meth:`~mmmulti.fusion.base.EMTrace.as_dict`: iterations, delta,
    converged, max_iter, tol); with ``class_target='dawid_skene'`` it also
    holds the class EM's record, the same keys, under ``em['em_class']``
    (its limits are ``class_max_iter`` and ``class_tol``; ``max_iter`` and
    ``tol`` are the presence EM's). A fit that stops at its
    ``max_iter`` warns (:class:`~mmmulti.fusion.base.EMNotConvergedWarning`).
    """

    dataset_level = True

    def __init__(self, iou_thr: float = 0.4, skip_box_thr: float = 0.0,
                 conf_type: str = 'avg', max_iter: int = 100, tol: float = 1e-4,
                 min_confidence: float = 0.5, correct_bias: bool = False,
                 bias_rounds: int = 3, precision_weights: bool = False,
                 class_target: str = 'votes', class_max_iter: int = 50,
                 class_tol: float = 1e-4, progress: bool = True) -> None:
        super().__init__(iou_thr=iou_thr, skip_box_thr=skip_box_thr, conf_type=conf_type,
                         progress=progress)
        if not 0.0 <= min_confidence < 1.0:
            raise ValueError(f'min_confidence must be in [0, 1), got {min_confidence}')
        self.max_iter = int(max_iter)
        self.tol = float(tol)
        self.min_confidence = float(min_confidence)
        self.correct_bias = bool(correct_bias)
        self.bias_rounds = int(bias_rounds)
        self.precision_weights = bool(precision_weights)
        if class_target not in ('votes', 'dawid_skene'):
            raise ValueError(f"class_target must be 'votes' or 'dawid_skene', got {class_target!r}")
        self.class_target = class_target
        self.class_max_iter = int(class_max_iter)
        self.class_tol = float(class_tol)
        self._class_model: Optional[DawidSkeneWBF] = None
        self._bias_steps: List[Dict[str, np.ndarray]] = []
        self._readers: List[str] = []
        self.prior: Optional[float] = None
        self.sensitivity: Optional[np.ndarray] = None
        self.invention: Optional[np.ndarray] = None
        self.coincidence: Optional[float] = None
        self.reader_estimates: Dict[str, dict] = OrderedDict()
        self.iterations = 0
        self.clusters = 0
        self.dropped = 0
        self.dropped_by_agreement: Dict[tuple, int] = {}
        self.em: Optional[dict] = None

    @property
    def reader_bias(self) -> Dict[str, np.ndarray]:
        """Per reader, the (dx, dy, log width, log height) bias undone
        (``correct_bias``; empty otherwise): the rounds' steps composed."""
        total: Dict[str, np.ndarray] = {}
        for step in self._bias_steps:
            total = compose(total, step)
        return total

    # -- observations ----------------------------------------------------------
    def _votes(self, reads: Sequence[ImageReads],
               members: Sequence[WeightedBoxes]) -> tuple:
        """(clusters, readers) arrays: ``drew`` (1: has a box in the cluster),
        ``read`` (1: read the cluster's image), and the clusters' c."""
        pos = {r: i for i, r in enumerate(self._readers)}
        rows = sum(len(m) for m in members)
        drew = np.zeros((rows, len(self._readers)))
        read = np.zeros_like(drew)
        conf = np.zeros(rows)
        g = 0
        for x, fused in zip(reads, members):
            n = len(fused)
            if not n:
                continue
            idx = [pos[r] for r in x.image_readers]
            read[g:g + n, idx] = 1.0
            for k, m in enumerate(fused.members):
                drew[g + k, [pos[r] for r in set(x.readers[m].tolist())]] = 1.0
            conf[g:g + n] = agreement_confidence(fused.sources, x.num_readers)[0]
            g += n
        return drew, read, conf

    # -- EM ----------------------------------------------------------------------
    def _m_step(self, post: np.ndarray, drew: np.ndarray, read: np.ndarray) -> None:
        real, spurious = post[:, None] * read, 1.0 - post
        self.sensitivity = (1.0 + (real * drew).sum(0)) / (2.0 + real.sum(0))
        if self.invention is None:
            self.invention = np.full(drew.shape[1], 1.0 / drew.shape[1])
        author = drew * self.invention
        author /= np.clip(author.sum(1, keepdims=True), 1e-300, None)
        made_up = 1.0 + (spurious[:, None] * author).sum(0)
        self.invention = made_up / made_up.sum()
        n, r = drew.sum(1), read.sum(1)
        self.coincidence = float((1.0 + (spurious * (n - 1)).sum())
                                 / (2.0 + (spurious * (r - 1)).sum()))
        self.prior = float(np.clip(post.mean(), 1e-6, 1 - 1e-6))

    def _e_step(self, drew: np.ndarray, read: np.ndarray) -> np.ndarray:
        s = self.sensitivity
        log1 = np.log(self.prior) + (read * (drew * np.log(s) + (1.0 - drew) * np.log1p(-s))).sum(1)
        n, r = drew.sum(1), read.sum(1)
        author = (drew * self.invention).sum(1) / (read * self.invention).sum(1)
        log0 = (np.log1p(-self.prior) + np.log(author) + (n - 1) * np.log(self.coincidence)
                + (r - n) * np.log1p(-self.coincidence))
        return 1.0 / (1.0 + np.exp(np.clip(log0 - log1, -700, 700)))

    def fuse_dataset(self, reads: Sequence[ImageReads]) -> List[FusedBoxes]:
        reads = list(reads)
        self._readers = sorted({r for x in reads for r in x.image_readers})
        self._bias_steps = []
        if self.correct_bias:
            for _ in range(self.bias_rounds):
                step = estimate_reader_bias(reads, self.fuse_dataset_members(reads))
                self._bias_steps.append(step)
                reads = [correct_reads(x, step) for x in reads]
        if self.precision_weights:
            self.reader_weights = None
            noise = estimate_reader_noise(reads, self.fuse_dataset_members(reads))
            if noise:
                top = max(1.0 / v for v in noise.values())
                self.reader_weights = {r: max(0.05, (1.0 / v) / top) for r, v in noise.items()}
        members = self.fuse_dataset_members(reads)
        drew, read, post = self._votes(reads, members)
        self.invention = None
        post, trace = run_em(post, lambda q: self._m_step(q, drew, read),
                             lambda: self._e_step(drew, read), self.max_iter, self.tol,
                             name='PresenceWBF presence EM')
        self.em = trace.as_dict()
        self.iterations = trace.iterations
        self._estimates(drew, read, post)
        kept, conf, g = [], [], 0
        self.clusters, self.dropped, self.dropped_by_agreement = len(post), 0, {}
        for x, fused in zip(reads, members):
            k, c = self._keep(fused, post[g:g + len(fused)], x.num_readers)
            kept.append(k)
            conf.append(c)
            g += len(fused)
        if self.class_target == 'dawid_skene':
            self._class_model = DawidSkeneWBF(iou_thr=self.iou_thr, max_iter=self.class_max_iter,
                                              tol=self.class_tol, progress=False)
            cls_post = self._class_model.fit_class_posteriors(
                reads, kept, name='PresenceWBF class EM (Dawid-Skene)', hint=CLASS_EM_HINT)
            self.em['em_class'] = self._class_model.em
        out, g = [], 0
        for x, k, c in zip(reads, kept, conf):
            if self.class_target == 'dawid_skene':
                shares = [self._class_model._shares(p) for p in cls_post[g:g + len(k)]]
                g += len(k)
            else:
                shares = self._vote_shares(x, k)
            out.append(self.class_split(x, k, shares, confidence=c))
        return out

    def _keep(self, fused: WeightedBoxes, post: np.ndarray, num_readers: int) -> tuple:
        """The clusters at or above ``min_confidence`` and their posteriors;
        the others are counted in ``dropped`` and, by (agreement,
        ``num_readers`` of the image), in ``dropped_by_agreement``."""
        keep = np.flatnonzero(post >= self.min_confidence)
        self.dropped += len(post) - len(keep)
        if len(keep) < len(post):
            gone = np.ones(len(post), bool)
            gone[keep] = False
            agree = agreement_confidence(fused.sources[gone], num_readers)[1]
            for a in agree.tolist():
                key = (int(a), int(num_readers))
                self.dropped_by_agreement[key] = self.dropped_by_agreement.get(key, 0) + 1
        kept = WeightedBoxes(fused.boxes[keep], fused.scores[keep], fused.labels[keep],
                             [fused.members[k] for k in keep], fused.sources[keep])
        return kept, np.clip(post[keep], np.finfo(np.float32).tiny, 1.0)

    @staticmethod
    def _vote_shares(reads: ImageReads, kept: WeightedBoxes) -> list:
        return [reader_class_shares(reads.readers[m], reads.labels[m]) for m in kept.members]

    def fuse(self, reads: ImageReads) -> FusedBoxes:
        """One image under the fitted rates (SoftWBF's output, c as
        confidence and nothing dropped, when :meth:`fuse_dataset` has not run
        or for a reader it did not see)."""
        fitted = self.prior is not None and set(reads.image_readers) <= set(self._readers)
        if fitted:
            for step in self._bias_steps:
                reads = correct_reads(reads, step)
        fused = self.fuse_members(reads)
        if not fitted or not len(fused):
            return self._finish(reads, fused)
        drew, read, _ = self._votes([reads], [fused])
        kept, conf = self._keep(fused, self._e_step(drew, read), reads.num_readers)
        shares = None
        if self.class_target == 'dawid_skene' and self._class_model is not None:
            post = self._class_model.class_posteriors(reads, kept)
            if post is not None:
                shares = [self._class_model._shares(p) for p in post]
        if shares is None:
            shares = self._vote_shares(reads, kept)
        return self.class_split(reads, kept, shares, confidence=conf)

    # -- reporting ---------------------------------------------------------------
    def _estimates(self, drew: np.ndarray, read: np.ndarray, post: np.ndarray) -> None:
        est: Dict[str, dict] = OrderedDict()
        for i, r in enumerate(self._readers):
            mine = drew[:, i] > 0
            est[r] = dict(
                boxes=int(mine.sum()),
                sensitivity=float(self.sensitivity[i]) if self.sensitivity is not None
                else float('nan'),
                invention=float(self.invention[i]) if self.invention is not None
                else float('nan'),
                # share of this reader's clusters that are more likely real
                precision=float((post[mine] >= 0.5).mean()) if mine.any() else float('nan'))
        self.reader_estimates = est

    def report(self) -> str:
        """The readers' estimated rates and the clusters dropped, printable."""
        if self.prior is None:
            return 'PresenceWBF: not fitted (call fuse_dataset first)'
        lines = [f'finding presence (two-coin EM, {self.iterations} round(s)): prior '
                 f'{self.prior:.3f}, coincidence f {self.coincidence:.3f}; {self.dropped} of {self.clusters} clusters below '
                 f'{self.min_confidence:g} dropped']
        lines += em_report_lines('presence EM', self.em)
        lines += em_report_lines('class EM (Dawid-Skene)', (self.em or {}).get('em_class'),
                                 CLASS_EM_HINT)
        lines += [f'{"reader":<12s} {"boxes":>7s} {"sensitivity":>11s} {"invention":>9s} '
                  f'{"precision":>9s}' + (' bias dx    dy  scale' if self.correct_bias else '')]
        for r, e in self.reader_estimates.items():
            line = (f'{r:<12s} {e["boxes"]:>7d} {e["sensitivity"]:>11.3f} '
                    f'{e["invention"]:>9.3f} {e["precision"]:>9.3f}')
            if self.correct_bias:
                b = self.reader_bias.get(r, np.zeros(4))
                line += f' {b[0]:+7.3f} {b[1]:+5.3f} {np.exp(b[2:]).mean():6.3f}'
            lines.append(line)
        return '\n'.join(lines)


__all__ = ['PresenceWBF']
