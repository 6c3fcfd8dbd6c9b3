"""Krippendorff's alpha of the readers' present / absent votes (nominal data).

Part of the reader diagnosis (:mod:`.diagnosis`): the units are the WBF
clusters someone drew, the coders the readers who read the cluster's image.
"""
from __future__ import annotations

import numpy as np


# -- Krippendorff's alpha ---------------------------------------------------------------
def alpha_from_value_counts(counts: np.ndarray) -> float:
    """Krippendorff's alpha (nominal) from per-unit value counts.

    ``counts[u, c]`` is how many coders gave unit u value c (missing values
    are simply not counted). Units with fewer than two values are not
    pairable and are left out. With m_u values in unit u, n_c = sum_u
    counts[u, c] and n = sum_c n_c over the pairable units:

        D_o = sum_u (m_u^2 - sum_c counts[u, c]^2) / (m_u - 1)   (mismatching pairs)
        D_e = (n^2 - sum_c n_c^2) / (n - 1)
        alpha = 1 - D_o / D_e

    NaN when there is nothing to compare (no pairable unit, or a single value
    throughout, D_e = 0).
    """
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim != 2:
        raise ValueError(f'counts must be (units, values), got shape {counts.shape}')
    m = counts.sum(1)
    keep = m >= 2
    counts, m = counts[keep], m[keep]
    if not len(m):
        return float('nan')
    d_o = float(((m ** 2 - (counts ** 2).sum(1)) / (m - 1)).sum())
    n_c = counts.sum(0)
    n = float(n_c.sum())
    d_e = (n ** 2 - float((n_c ** 2).sum())) / (n - 1)
    if d_e <= 0:
        return float('nan')
    return 1.0 - d_o / d_e


def krippendorff_alpha_nominal(data) -> float:
    """Krippendorff's alpha for nominal values with missing data.

    ``data`` is (units, coders); NaN (or None) is a missing value: the coder
    did not rate the unit. Any other values are categories, compared for
    equality only. See :func:`alpha_from_value_counts`.
    """
    x = np.asarray(data, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f'data must be (units, coders), got shape {x.shape}')
    values = np.unique(x[~np.isnan(x)])
    counts = np.stack([(x == v).sum(1) for v in values], 1) if len(values) else \
        np.zeros((len(x), 0))
    return alpha_from_value_counts(counts)


def vote_value_counts(drew: np.ndarray, read: np.ndarray) -> np.ndarray:
    """(clusters, 2) counts of absent / present votes: every reader who read
    the cluster's image is a coder, present when it has a box in the cluster;
    a reader who did not read the image is missing."""
    present = (drew * read).sum(1)
    return np.stack([read.sum(1) - present, present], 1)


__all__ = ['alpha_from_value_counts', 'krippendorff_alpha_nominal', 'vote_value_counts']
