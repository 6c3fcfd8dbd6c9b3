"""How well confidences predict a yes/no outcome: reliability bins, ECE, Brier, log-loss, AUC.

The outcome is a held-out reader's confirmation of a fused box
(:mod:`mmmulti.analysis.heldout`) or, on simulated data, whether the box is a
real finding. Pure numpy; the definitions are the textbook ones so that the
numbers can be checked by hand (``tests/test_analysis_calibration.py``):

* bins: ``num_bins`` equal-width bins of the prediction on [0, 1], the last
  closed (a prediction of exactly 1 falls in it);
* ECE = sum over bins of (n_b / N) |mean prediction_b - mean outcome_b|;
* Brier = mean (p - y)^2;
* log-loss = -mean(y log p + (1 - y) log(1 - p)), p clipped to [eps, 1 - eps];
* AUC = P(p of a random positive > p of a random negative) + 1/2 P(tie)
  (Mann-Whitney with mid-ranks); NaN when all outcomes are equal.
"""
from __future__ import annotations

from typing import Dict, List

import numpy as np

LOG_EPS = 1e-6


def _arrays(pred, outcome) -> tuple:
    p = np.asarray(pred, dtype=np.float64).reshape(-1)
    y = np.asarray(outcome, dtype=np.float64).reshape(-1)
    if len(p) != len(y):
        raise ValueError(f'{len(p)} predictions but {len(y)} outcomes')
    if len(p) and (not np.isfinite(p).all() or p.min() < 0 or p.max() > 1):
        raise ValueError('predictions must be finite and in [0, 1]')
    if len(y) and not np.isin(y, (0.0, 1.0)).all():
        raise ValueError('outcomes must be 0 or 1')
    return p, y


def bin_index(pred: np.ndarray, num_bins: int = 10) -> np.ndarray:
    """Equal-width bin of each prediction (the last bin includes 1)."""
    return np.minimum((np.asarray(pred, dtype=np.float64) * num_bins).astype(np.int64),
                      num_bins - 1)


def reliability_bins(pred, outcome, num_bins: int = 10) -> List[Dict]:
    """Per non-empty bin: its range, count, mean prediction and outcome rate."""
    p, y = _arrays(pred, outcome)
    b = bin_index(p, num_bins)
    out = []
    for k in range(num_bins):
        sel = b == k
        if sel.any():
            out.append(dict(low=k / num_bins, high=(k + 1) / num_bins, boxes=int(sel.sum()),
                            predicted=float(p[sel].mean()), observed=float(y[sel].mean())))
    return out


def expected_calibration_error(pred, outcome, num_bins: int = 10) -> float:
    p, y = _arrays(pred, outcome)
    if not len(p):
        return float('nan')
    return float(sum(r['boxes'] * abs(r['predicted'] - r['observed'])
                     for r in reliability_bins(p, y, num_bins)) / len(p))


def brier_score(pred, outcome) -> float:
    p, y = _arrays(pred, outcome)
    return float(((p - y) ** 2).mean()) if len(p) else float('nan')


def log_loss(pred, outcome, eps: float = LOG_EPS) -> float:
    p, y = _arrays(pred, outcome)
    if not len(p):
        return float('nan')
    p = np.clip(p, eps, 1.0 - eps)
    return float(-(y * np.log(p) + (1.0 - y) * np.log1p(-p)).mean())


def roc_auc(pred, outcome) -> float:
    """Mann-Whitney AUC with mid-ranks for ties."""
    p, y = _arrays(pred, outcome)
    pos = int(y.sum())
    neg = len(y) - pos
    if pos == 0 or neg == 0:
        return float('nan')
    order = np.argsort(p, kind='mergesort')
    sp = p[order]
    ranks = np.empty(len(p))
    # mid-rank of each run of equal predictions (ranks from 1)
    starts = np.flatnonzero(np.r_[True, sp[1:] != sp[:-1]])
    ends = np.r_[starts[1:], len(sp)]
    for s, e in zip(starts, ends):
        ranks[order[s:e]] = (s + 1 + e) / 2.0
    return float((ranks[y == 1].sum() - pos * (pos + 1) / 2.0) / (pos * neg))


def calibration_summary(pred, outcome, num_bins: int = 10) -> Dict:
    """ECE, Brier, log-loss, AUC, the bins, and the counts, as one dict."""
    p, y = _arrays(pred, outcome)
    return dict(boxes=int(len(p)), rate=float(y.mean()) if len(y) else float('nan'),
                ece=expected_calibration_error(p, y, num_bins), brier=brier_score(p, y),
                log_loss=log_loss(p, y), auc=roc_auc(p, y),
                reliability=reliability_bins(p, y, num_bins))


__all__ = ['bin_index', 'reliability_bins', 'expected_calibration_error', 'brier_score',
           'log_loss', 'roc_auc', 'calibration_summary']
