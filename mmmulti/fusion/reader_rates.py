"""Each reader's sensitivity and false-positive rate, and P(real) per cluster, by EM.

The model behind :class:`~mmmulti.fusion.CalibratedWBF` and the held-out
correction (:mod:`mmmulti.analysis.heldout`). It sees only votes: for every
cluster g (a WBF cluster, one class) and every reader r, whether r read the
image (``read``) and whether r drew a box in the cluster (``drew``). A reader
of the image with no box there is an absent vote.

Findings are counted per image (a Poisson picture, so that one model serves
every subset of readers: VinDr-CXR's images each have their own three of 17):

* real findings of cell c (class x box-size bin) occur at lam_c per image;
  each reader r of the image draws one with its sensitivity s_r;
* reader r makes up mu_r boxes per image it reads, in cell c with share pi_c;
  each other reader of the image draws a box on a made-up one by
  coincidence, with its own rate f_r. f_r is *not* fitted by EM: with three
  readers and no finding ever seen undrawn, a free f_r makes the model
  unidentified (two readers' agreement could then be either a finding or a
  coincidence, and EM drifts along that ridge: measured, R2's f rose to 0.08
  on ``vindr_like`` while the truth's is near 0.01). It is measured instead,
  by laying each cluster on another image the reader read
  (:func:`mmmulti.fusion.calibrated.coincidence_rates`);
* P(real | votes y, cell c) = L1 / (L1 + L0) with
  L1 = lam_c prod_r s_r^y (1 - s_r)^(1 - y) and
  L0 = pi_c sum over drawers a of mu_a prod_(r != a) f_r^y (1 - f_r)^(1 - y);
* the M-step counts, for every seen real finding, the expected real findings
  of its image's readers that nobody drew (P0 / (1 - P0), P0 = prod (1 - s_r)),
  so s_r is not inflated by the findings everybody missed, and lam is the
  rate of all real findings, seen or not.

Because the rates are per image, a posterior can be computed for the votes of
any subset of readers (two left when one is held out) under a model fitted
with all of them.

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
    """A fitted model: per reader (columns of the vote matrices) s, f, mu,
    and per cell lam (real findings per image) and pi (share of made-up boxes)."""

    readers: List[str]
    sensitivity: np.ndarray
    coincidence: np.ndarray
    made_up: np.ndarray          # mu_r: made-up boxes per image read
    real_rate: np.ndarray        # lam_c: real findings per image, per cell
    spurious_share: np.ndarray   # pi_c
    prior: float = 0.5           # share of seen clusters that are real
    em: EMTrace = field(default_factory=EMTrace)

    def subset(self, readers: Sequence[str]) -> 'ReaderRates':
        """The model over ``readers`` (columns in that order); a reader the
        fit did not see gets the mean rates of those it did."""
        pos = {r: i for i, r in enumerate(self.readers)}

        def take(a: np.ndarray) -> np.ndarray:
            return np.array([a[pos[r]] if r in pos else a.mean() for r in readers])
        return ReaderRates(list(readers), take(self.sensitivity), take(self.coincidence),
                           take(self.made_up), self.real_rate, self.spurious_share,
                           self.prior, self.em)

    def rates(self) -> Dict[str, dict]:
        """Reader -> {'sensitivity', 'coincidence', 'made_up_per_image'}."""
        return {r: dict(sensitivity=float(self.sensitivity[i]),
                        coincidence=float(self.coincidence[i]),
                        made_up_per_image=float(self.made_up[i]))
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
    def log_real(model: ReaderRates, drew: np.ndarray, read: np.ndarray,
                 cells: np.ndarray) -> np.ndarray:
        s = model.sensitivity
        return (np.log(np.clip(model.real_rate[cells], 1e-12, None))
                + (read * (drew * np.log(s) + (1.0 - drew) * np.log1p(-s))).sum(1))

    @staticmethod
    def spurious_terms(model: ReaderRates, drew: np.ndarray, read: np.ndarray,
                       cells: np.ndarray) -> tuple:
        """log L0 and the author responsibilities (clusters x readers)."""
        f = model.coincidence
        base = (read * (drew * np.log(f) + (1.0 - drew) * np.log1p(-f))).sum(1)
        author = drew * read * np.clip(model.made_up, 1e-12, None) / f
        total = np.clip(author.sum(1), 1e-300, None)
        log0 = np.log(np.clip(model.spurious_share[cells], 1e-12, None)) + base + np.log(total)
        return log0, author / total[:, None]

    def posterior(self, model: ReaderRates, drew: np.ndarray, read: np.ndarray,
                  cells: np.ndarray) -> np.ndarray:
        """P(real | votes, cell) under a fitted model (columns = model.readers)."""
        if not len(drew):
            return np.zeros(0)
        log1 = self.log_real(model, drew, read, cells)
        log0, _ = self.spurious_terms(model, drew, read, cells)
        return 1.0 / (1.0 + np.exp(np.clip(log0 - log1, -700, 700)))

    # -- EM -----------------------------------------------------------------------
    def fit(self, drew: np.ndarray, read: np.ndarray, cells: np.ndarray, num_cells: int,
            readers: Sequence[str], coincidence: np.ndarray, images_read: np.ndarray,
            num_images: int, init: Optional[np.ndarray] = None,
            name: str = 'reader-rate EM') -> tuple:
        """Fit on the votes; returns ``(posteriors, ReaderRates)``.

        ``coincidence`` is each reader's f_r (fixed), ``images_read`` how many
        images each reader read, ``num_images`` the images of the data set;
        ``init`` are starting posteriors (default: share of the image's
        readers who drew the cluster, WBF's agreement)."""
        drew = np.asarray(drew, dtype=np.float64)
        read = np.asarray(read, dtype=np.float64)
        cells = np.asarray(cells, dtype=np.int64)
        r = len(readers)
        f = np.clip(np.asarray(coincidence, dtype=np.float64).reshape(-1), 1e-4, 1 - 1e-4)
        if len(f) != r:
            raise ValueError(f'{len(f)} coincidence rates for {r} readers')
        cells_n = max(int(num_cells), 1)
        model = ReaderRates(list(readers), np.full(r, 0.5), f, np.full(r, 0.1),
                            np.full(cells_n, 0.1), np.full(cells_n, 1.0 / cells_n))
        images_read = np.clip(np.asarray(images_read, dtype=np.float64), 1, None)
        if init is None:
            init = drew.sum(1) / np.clip(read.sum(1), 1, None) if len(drew) else np.zeros(0)
        post = np.clip(np.asarray(init, dtype=np.float64), 0.0, 1.0)

        def m_step(p: np.ndarray) -> None:
            self._m_step(model, p, drew, read, cells, cells_n, images_read, num_images)

        def e_step() -> np.ndarray:
            return self.posterior(model, drew, read, cells)

        post, trace = run_em(post, m_step, e_step, self.max_iter, self.tol, name=name)
        model.em = trace
        return post, model

    def _m_step(self, model: ReaderRates, post: np.ndarray, drew: np.ndarray,
                read: np.ndarray, cells: np.ndarray, num_cells: int,
                images_read: np.ndarray, num_images: int) -> None:
        spur = 1.0 - post
        if self.truncation:
            # expected real findings of the image's readers that nobody drew
            p0 = np.exp((read * np.log1p(-model.sensitivity)).sum(1))
            weight = post * (1.0 + np.clip(p0 / np.clip(1.0 - p0, _EPS, None), 0.0, 1e3))
        else:
            weight = post
        model.sensitivity = np.clip(
            (1.0 + (post[:, None] * read * drew).sum(0)) / (2.0 + (weight[:, None] * read).sum(0)),
            1e-4, 1 - 1e-4)
        _, resp = self.spurious_terms(model, drew, read, cells)
        model.made_up = (0.5 + (spur[:, None] * resp).sum(0)) / (1.0 + images_read)
        model.prior = float(np.clip(post.mean(), 1e-6, 1 - 1e-6)) if len(post) else 0.5
        real = np.bincount(cells, weights=weight, minlength=num_cells)
        made = np.bincount(cells, weights=spur, minlength=num_cells)
        # pseudo-clusters pull sparse cells towards the overall split
        share_real = real.sum() / max(real.sum() + made.sum(), _EPS)
        real = real + self.shrink * share_real
        made = made + self.shrink * (1.0 - share_real)
        model.real_rate = real / max(num_images, 1)
        model.spurious_share = made / made.sum()


__all__ = ['ReaderRates', 'ReaderRateModel']
