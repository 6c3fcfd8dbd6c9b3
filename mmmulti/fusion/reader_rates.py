"""Each reader's sensitivity and false-positive rate, and P(real) per cluster, by EM.

The model behind :class:`~mmmulti.fusion.CalibratedWBF` and the held-out
correction (:mod:`mmmulti.analysis.heldout`). It sees only votes: for every
cluster g (a WBF cluster, one class) and every reader r, whether r read the
image (``read``) and whether r drew a box in the cluster (``drew``). A reader
of the image with no box there is an absent vote.

* g is a real finding of its class (z = 1) with prior rho_cell, per cell of
  class x box-size bin (shrunk towards the overall rate by ``shrink``
  pseudo-clusters, so a rare class borrows strength);
* real: each reader r of the image draws it with its sensitivity s_r;
* spurious: one reader a made it up (chosen with weight q_a among the image's
  readers who drew it), and each other reader of the image draws a box there
  by coincidence, with its own rate f_r. f_r is *not* fitted by EM: with three
  readers and no finding ever seen undrawn, a free f_r makes the model
  unidentified (two readers' agreement could then be either a finding or a
  coincidence, and EM drifts along that ridge: measured, R2's f rose to 0.08
  on ``vindr_like`` while the truth's is near 0.01). It is measured instead,
  by laying each cluster on another image the reader read
  (:func:`mmmulti.fusion.calibrated.coincidence_rates`);
* a real finding that no reader drew is never seen as a cluster: the
  likelihood of a real cluster is divided by 1 - prod_r (1 - s_r) (a
  zero-truncated model), and the M-step adds the expected unseen findings,
  so s_r is not inflated by the findings everybody missed.

Then P(confirm by reader h | cluster) = P(real) s_h + (1 - P(real)) f_h:
the quantity held-out validation checks (docs/heldout.md).

Pure numpy, fast enough to refit hundreds of times (bootstrap intervals).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np

from .base import EMTrace, run_em

_EPS = 1e-9


@dataclass
class ReaderRates:
    """A fitted model: per reader (columns of the vote matrices) s, f, q, and
    the prior per cell."""

    readers: List[str]
    sensitivity: np.ndarray
    coincidence: np.ndarray
    invention: np.ndarray
    cell_prior: np.ndarray
    prior: float
    em: EMTrace = field(default_factory=EMTrace)
    made_up: Optional[np.ndarray] = None   # expected made-up boxes per reader

    def rates(self) -> Dict[str, dict]:
        """Reader -> {'sensitivity', 'coincidence', 'invention'} (see the module)."""
        return {r: dict(sensitivity=float(self.sensitivity[i]),
                        coincidence=float(self.coincidence[i]),
                        invention=float(self.invention[i]))
                for i, r in enumerate(self.readers)}


class ReaderRateModel:
    """EM of :class:`ReaderRates` on (clusters x readers) vote matrices.

    Args:
        max_iter, tol: EM limits (stop when no posterior moves by more than tol).
        shrink: pseudo-clusters pulling each cell's prior to the overall rate.
        truncation: correct for the real findings no reader drew (see module).
    """

    def __init__(self, max_iter: int = 200, tol: float = 1e-5, shrink: float = 20.0,
                 truncation: bool = True) -> None:
        if int(max_iter) < 1:
            raise ValueError(f'max_iter must be >= 1, got {max_iter}')
        if not (np.isfinite(tol) and tol > 0):
            raise ValueError(f'tol must be > 0, got {tol}')
        if not (np.isfinite(shrink) and shrink >= 0):
            raise ValueError(f'shrink must be >= 0, got {shrink}')
        self.max_iter = int(max_iter)
        self.tol = float(tol)
        self.shrink = float(shrink)
        self.truncation = bool(truncation)

    # -- model pieces -----------------------------------------------------------
    @staticmethod
    def log_real(s: np.ndarray, drew: np.ndarray, read: np.ndarray, truncation: bool) -> np.ndarray:
        log1 = (read * (drew * np.log(s) + (1.0 - drew) * np.log1p(-s))).sum(1)
        if truncation:
            log1 -= np.log(np.clip(-np.expm1((read * np.log1p(-s)).sum(1)), _EPS, None))
        return log1

    @staticmethod
    def spurious_terms(f: np.ndarray, q: np.ndarray, drew: np.ndarray,
                       read: np.ndarray) -> tuple:
        """log L0 and the author responsibilities (clusters x readers)."""
        base = (read * (drew * np.log(f) + (1.0 - drew) * np.log1p(-f))).sum(1)
        pi = read * q
        pi = pi / np.clip(pi.sum(1, keepdims=True), _EPS, None)
        author = drew * pi / f
        total = np.clip(author.sum(1), 1e-300, None)
        return base + np.log(total), author / total[:, None]

    def posterior(self, model: ReaderRates, drew: np.ndarray, read: np.ndarray,
                  cells: np.ndarray) -> np.ndarray:
        """P(real | votes, cell) under a fitted model."""
        if not len(drew):
            return np.zeros(0)
        rho = np.clip(model.cell_prior[cells], 1e-6, 1 - 1e-6)
        log1 = np.log(rho) + self.log_real(model.sensitivity, drew, read, self.truncation)
        log0, _ = self.spurious_terms(model.coincidence, model.invention, drew, read)
        log0 = log0 + np.log1p(-rho)
        return 1.0 / (1.0 + np.exp(np.clip(log0 - log1, -700, 700)))

    # -- EM -----------------------------------------------------------------------
    def fit(self, drew: np.ndarray, read: np.ndarray, cells: np.ndarray, num_cells: int,
            readers: Sequence[str], coincidence: np.ndarray,
            init: Optional[np.ndarray] = None, name: str = 'reader-rate EM') -> tuple:
        """Fit on the votes; returns ``(posteriors, ReaderRates)``.

        ``coincidence`` is each reader's f_r (fixed); ``init`` are starting
        posteriors (default: share of the image's readers who drew the
        cluster, WBF's agreement)."""
        drew = np.asarray(drew, dtype=np.float64)
        read = np.asarray(read, dtype=np.float64)
        cells = np.asarray(cells, dtype=np.int64)
        r = drew.shape[1] if drew.ndim == 2 else len(readers)
        f = np.clip(np.asarray(coincidence, dtype=np.float64).reshape(-1), 1e-4, 1 - 1e-4)
        if len(f) != r:
            raise ValueError(f'{len(f)} coincidence rates for {r} readers')
        model = ReaderRates(list(readers), np.full(r, 0.5), f,
                            np.full(r, 1.0 / max(r, 1)), np.full(max(num_cells, 1), 0.5), 0.5)
        if init is None:
            init = drew.sum(1) / np.clip(read.sum(1), 1, None) if len(drew) else np.zeros(0)
        post = np.clip(np.asarray(init, dtype=np.float64), 0.0, 1.0)

        def m_step(p: np.ndarray) -> None:
            self._m_step(model, p, drew, read, cells, num_cells)

        def e_step() -> np.ndarray:
            return self.posterior(model, drew, read, cells)

        post, trace = run_em(post, m_step, e_step, self.max_iter, self.tol, name=name)
        model.em = trace
        return post, model

    def _m_step(self, model: ReaderRates, post: np.ndarray, drew: np.ndarray,
                read: np.ndarray, cells: np.ndarray, num_cells: int) -> None:
        spur = 1.0 - post
        real_read = post[:, None] * read
        if self.truncation:
            # expected real findings nobody drew, per seen real one
            p0 = np.exp((read * np.log1p(-model.sensitivity)).sum(1))
            unseen = np.clip(p0 / np.clip(1.0 - p0, _EPS, None), 0.0, 1e3)
            real_opp = real_read * (1.0 + unseen)[:, None]
        else:
            real_opp = real_read
        model.sensitivity = np.clip((1.0 + (real_read * drew).sum(0)) / (2.0 + real_opp.sum(0)),
                                    1e-4, 1 - 1e-4)
        _, resp = self.spurious_terms(model.coincidence, model.invention, drew, read)
        made = spur[:, None] * resp
        q = 1.0 + made.sum(0)
        model.invention = q / q.sum()
        # expected made-up boxes per image read (reported, not used by the E-step)
        model.made_up = made.sum(0)
        model.prior = float(np.clip(post.mean(), 1e-6, 1 - 1e-6))
        sums = np.bincount(cells, weights=post, minlength=num_cells)
        counts = np.bincount(cells, minlength=num_cells)
        model.cell_prior = (sums + self.shrink * model.prior) / (counts + self.shrink + _EPS)


__all__ = ['ReaderRates', 'ReaderRateModel']
