"""Soft-label WBF whose class target is a Dawid–Skene posterior.

``SoftWBF`` turns the readers' class votes in a cluster into shares, every
reader's vote counting the same. Readers are not equally reliable per class:
one may call every nodule a mass. Dawid & Skene (1979) model each reader ``r``
with a confusion matrix ``pi_r[j, l]`` = P(reader r says l | true class j) and
estimate the matrices and the true-class posteriors together by EM over the
whole data set (the class part of LAEM / BDC-style aggregation):

* E-step: for each cluster g, T[g, j] ∝ p_j · Π over its readers' labels l of
  pi_r[j, l] (a reader who gave k classes in one cluster counts each with
  weight 1/k, as in :func:`~mmmulti.fusion.soft_wbf.reader_votes`);
* M-step: p_j = mean over clusters of T[g, j]; pi_r[j, l] ∝ ``smoothing`` +
  Σ over r's labels l in cluster g of T[g, j].

EM starts from the vote shares (SoftWBF's targets) and stops when no
posterior moves by more than ``tol``. The confusion matrices are learnt from
clusters where two readers gave different classes; a data set without one (a
single reader, or readers who always agree) holds no evidence of confusion,
and EM there would only pull rare classes towards the common ones through the
smoothing. Such a fit is skipped: the confusion is the identity (its
maximum-likelihood value) and the class targets are the readers' votes. Readers who drew nothing in a cluster
are not class votes: whether a finding is there at all is the cluster's
agreement c, as in WBF. Output: the class-split rows of SoftWBF with the
posterior as shares (classes below ``min_share`` dropped, the rest
renormalised), so EARL trains on it through the same carrier.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Dict, List, Optional, Sequence

import numpy as np

from .base import EMTrace, FusedBoxes, ImageReads, em_report_lines, run_em
from .registry import FUSION_METHODS
from .soft_wbf import SoftWBF, reader_votes
from .weighted_boxes import WeightedBoxes


@FUSION_METHODS.register_module()
class DawidSkeneWBF(SoftWBF):
    """Class-agnostic WBF clusters; class target = Dawid–Skene posterior (EM).

    Args:
        iou_thr, skip_box_thr, conf_type: as :class:`~mmmulti.fusion.WBF`.
        max_iter (int): most EM rounds.
        tol (float): stop when no posterior changes by more than this.
        smoothing (float): pseudo-count added to every confusion cell (keeps
            a reader's unseen (true, said) pairs possible).
        min_share (float): posterior classes below this are dropped from the
            class-split rows (the rest renormalised).

    After :meth:`fuse_dataset`: ``confusion`` (readers, C, C), ``class_prior``
    (C,), ``reader_estimates`` (per reader: boxes, accuracy = Σ_j p_j
    pi_r[j, j]), ``em`` (how the EM ended: :meth:`EMTrace.as_dict`; ``None``
    before; it warns, :class:`~mmmulti.fusion.base.EMNotConvergedWarning`,
    when it stops at ``max_iter``) and :meth:`report`.
    """

    dataset_level = True

    def __init__(self, iou_thr: float = 0.4, skip_box_thr: float = 0.0,
                 conf_type: str = 'avg', max_iter: int = 50, tol: float = 1e-4,
                 smoothing: float = 1.0, min_share: float = 0.05,
                 progress: bool = True) -> None:
        super().__init__(iou_thr=iou_thr, skip_box_thr=skip_box_thr, conf_type=conf_type,
                         progress=progress)
        if not smoothing > 0:
            raise ValueError(f'smoothing must be > 0, got {smoothing}')
        if not 0 <= min_share < 0.5:
            raise ValueError(f'min_share must be in [0, 0.5), got {min_share}')
        self.max_iter = int(max_iter)
        self.tol = float(tol)
        self.smoothing = float(smoothing)
        self.min_share = float(min_share)
        self._readers: List[str] = []
        self.confusion: Optional[np.ndarray] = None
        self.class_prior: Optional[np.ndarray] = None
        self.reader_estimates: Dict[str, dict] = OrderedDict()
        self.iterations = 0
        self.em: Optional[dict] = None
        #: False after a fit on data where no two readers ever disagreed on a class
        self.identifiable = True

    # -- observations ----------------------------------------------------------
    def _observations(self, reads: Sequence[ImageReads],
                      members: Sequence[WeightedBoxes]) -> tuple:
        """Flat (cluster, reader, label, weight) arrays over the data set."""
        pos = {r: i for i, r in enumerate(self._readers)}
        g_idx, r_idx, labels, weights = [], [], [], []
        g = 0
        for x, fused in zip(reads, members):
            for m in fused.members:
                for r, lab, vote in reader_votes(x.readers[m], x.labels[m]):
                    g_idx.append(g)
                    r_idx.append(pos[r])
                    labels.append(lab)
                    weights.append(vote)
                g += 1
        return (g, np.asarray(g_idx, np.int64), np.asarray(r_idx, np.int64),
                np.asarray(labels, np.int64), np.asarray(weights, np.float64))

    # -- EM ----------------------------------------------------------------------
    def _m_step(self, post: np.ndarray, g_idx, r_idx, labels, weights) -> None:
        c = post.shape[1]
        counts = np.full((len(self._readers), c, c), self.smoothing)
        np.add.at(counts, (r_idx, slice(None), labels), post[g_idx] * weights[:, None])
        self.confusion = counts / counts.sum(axis=2, keepdims=True)
        self.class_prior = np.clip(post.mean(axis=0), 1e-12, None)
        self.class_prior /= self.class_prior.sum()

    def _e_step(self, num_clusters: int, g_idx, r_idx, labels, weights) -> np.ndarray:
        log = np.tile(np.log(self.class_prior), (num_clusters, 1))
        np.add.at(log, g_idx, weights[:, None] * np.log(self.confusion[r_idx, :, labels]))
        log -= log.max(axis=1, keepdims=True)
        post = np.exp(log)
        return post / post.sum(axis=1, keepdims=True)

    def fuse_dataset(self, reads: Sequence[ImageReads]) -> List[FusedBoxes]:
        reads = list(reads)
        members = self.fuse_dataset_members(reads)
        post = self.fit_class_posteriors(reads, members)
        out, g = [], 0
        for x, fused in zip(reads, members):
            n = len(fused)
            out.append(self.class_split(x, fused, [self._shares(p) for p in post[g:g + n]]))
            g += n
        return out

    def fit_class_posteriors(self, reads: Sequence[ImageReads],
                             members: Sequence[WeightedBoxes],
                             name: str = 'DawidSkeneWBF class EM',
                             hint: Optional[str] = None) -> np.ndarray:
        """EM over the clusters ``members`` of ``reads``: fits the confusion
        matrices and the prior, returns the (clusters, C) class posteriors in
        image order (also used by :class:`~mmmulti.fusion.PresenceWBF`);
        ``name`` names the fit in the warning given when it stops at max_iter,
        ``hint`` (default: the ``--max-iter`` / ``--tol`` advice) says what to raise."""
        reads = list(reads)
        self._readers = sorted({r for x in reads for r in x.image_readers})
        num, g_idx, r_idx, labels, weights = self._observations(reads, members)
        c = int(max((x.labels.max() for x in reads if len(x)), default=-1)) + 1
        post = np.zeros((num, max(c, 1)))
        np.add.at(post, (g_idx, labels), weights)  # the vote shares
        post /= np.clip(post.sum(axis=1, keepdims=True), 1e-12, None)
        self.identifiable = bool(self._disagreements(g_idx, r_idx, labels))
        if not self.identifiable:
            return self._votes_only(post, r_idx)
        post, trace = run_em(
            post, lambda q: self._m_step(q, g_idx, r_idx, labels, weights),
            lambda: self._e_step(num, g_idx, r_idx, labels, weights), self.max_iter, self.tol,
            name=name, **({'hint': hint} if hint else {}))
        self.em = trace.as_dict()
        self.iterations = trace.iterations
        self._estimates(r_idx)
        return post

    @staticmethod
    def _disagreements(g_idx: np.ndarray, r_idx: np.ndarray, labels: np.ndarray) -> int:
        """Clusters whose readers did not all give the same classes."""
        said: Dict[tuple, set] = {}
        for g, r, lab in zip(g_idx.tolist(), r_idx.tolist(), labels.tolist()):
            said.setdefault((g, r), set()).add(lab)
        per_cluster: Dict[int, set] = {}
        for (g, _), classes in said.items():
            per_cluster.setdefault(g, set()).add(frozenset(classes))
        return sum(len(sets) > 1 for sets in per_cluster.values())

    def _votes_only(self, post: np.ndarray, r_idx: np.ndarray) -> np.ndarray:
        """The fit without evidence of confusion: vote shares, identity confusion."""
        c = post.shape[1]
        self.confusion = np.tile(np.eye(c), (len(self._readers), 1, 1))
        prior = post.mean(axis=0) if len(post) else np.full(c, 1.0 / c)
        self.class_prior = prior / prior.sum()
        self.em = dict(EMTrace(0, 0.0, True, self.max_iter, self.tol).as_dict(),
                       skipped='no cluster where two readers gave different classes')
        self.iterations = 0
        self._estimates(r_idx)
        return post

    def class_posteriors(self, reads: ImageReads, fused: WeightedBoxes) -> Optional[np.ndarray]:
        """One image's class posteriors under the fitted matrices; None when
        not fitted, fitted without evidence of confusion, or for a reader or
        class the fit did not see."""
        fitted = (self.confusion is not None and self.identifiable and set(reads.readers) <= set(self._readers)
                  and (not len(reads) or reads.labels.max() < self.confusion.shape[1]))
        if not fitted or not len(fused):
            return None
        num, g_idx, r_idx, labels, weights = self._observations([reads], [fused])
        return self._e_step(num, g_idx, r_idx, labels, weights)

    def _shares(self, posterior: np.ndarray) -> Dict[int, float]:
        keep = posterior >= self.min_share
        keep[int(np.argmax(posterior))] = True
        p = posterior[keep] / posterior[keep].sum()
        return {int(j): float(v) for j, v in zip(np.flatnonzero(keep), p)}

    def fuse(self, reads: ImageReads) -> FusedBoxes:
        """One image: the posterior under the fitted matrices (the vote shares
        of SoftWBF when :meth:`fuse_dataset` has not run, or for a reader or
        class it did not see)."""
        fused = self.fuse_members(reads)
        post = self.class_posteriors(reads, fused)
        if post is None:
            return self._finish(reads, fused)
        return self.class_split(reads, fused, [self._shares(p) for p in post])

    def _estimates(self, r_idx: np.ndarray) -> None:
        est: Dict[str, dict] = OrderedDict()
        boxes = np.bincount(r_idx, minlength=len(self._readers)) if len(r_idx) else \
            np.zeros(len(self._readers), np.int64)
        for i, r in enumerate(self._readers):
            acc = (float(self.class_prior @ np.diag(self.confusion[i]))
                   if self.confusion is not None else float('nan'))
            est[r] = dict(labels=int(boxes[i]), accuracy=acc)
        self.reader_estimates = est

    def report(self) -> str:
        """The readers' estimated class accuracies as a printable table."""
        if self.confusion is None:
            return 'DawidSkeneWBF: not fitted (call fuse_dataset first)'
        lines = [f'reader class accuracy (Dawid-Skene EM, {self.iterations} round(s); '
                 'accuracy = sum_j prior_j * P(says j | true j))']
        lines += em_report_lines('class EM (Dawid-Skene)', self.em)
        if not self.identifiable:
            lines.append('no two readers gave different classes to one cluster: the confusion '
                         'cannot be learnt; class targets are the readers\' votes')
        lines.append(f'{"reader":<12s} {"labels":>7s} {"accuracy":>9s}')
        for r, e in self.reader_estimates.items():
            lines.append(f'{r:<12s} {e["labels"]:>7d} {e["accuracy"]:>9.3f}')
        return '\n'.join(lines)


__all__ = ['DawidSkeneWBF']
