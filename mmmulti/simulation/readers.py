"""Simulated readers of the MED-MNIST set (class confusion, misses, box jitter).

A reader of proficiency ``p`` is described by a class transition matrix
``A`` of shape (K, K + 1): row = true class, columns = the K classes followed
by ``no_obj`` (the reader misses the object and draws nothing).

* Diagonal: ``a_ii = min(max(0.5, alpha_i), 1)`` with ``alpha_i ~ N(p, sigma)``,
  ``sigma = 0.05``, drawn independently for every row, so each reader has its
  own matrix and it is diagonally dominant (``a_ii >= 0.5``).
* Off-diagonal: the remaining mass ``1 - a_ii`` is spread *uniformly over the
  other K columns* (the K - 1 wrong classes and ``no_obj``), i.e. each gets
  ``(1 - a_ii) / K``. With K = 10 a reader misses an object of class i with
  probability ``(1 - a_ii) / 10`` and relabels it with probability
  ``9 (1 - a_ii) / 10``.

Every box a reader draws is a jittered copy of the true box whose IoU with it
is at least ``p`` (:func:`jitter_box`).
"""
from __future__ import annotations

import numpy as np

from mmmulti.fusion.geometry import pair_iou


#: Standard deviation of alpha around the proficiency p.
ALPHA_STD = 0.05


def sample_transition_matrix(num_classes: int, proficiency: float,
                             rng: np.random.Generator,
                             alpha_std: float = ALPHA_STD) -> np.ndarray:
    """One reader's (K, K + 1) row-stochastic matrix; last column is ``no_obj``."""
    k = num_classes
    alpha = rng.normal(proficiency, alpha_std, size=k)
    diag = np.minimum(np.maximum(0.5, alpha), 1.0)
    mat = np.repeat(((1.0 - diag) / k)[:, None], k + 1, axis=1)
    mat[np.arange(k), np.arange(k)] = diag
    return mat


def jitter_box(box: np.ndarray, min_iou: float, rng: np.random.Generator,
               img_w: float, img_h: float, max_tries: int = 200) -> np.ndarray:
    """A copy of ``box`` (xyxy) with its four edges moved at random, IoU >= ``min_iou``.

    Each edge moves by ``N(0, s)`` times the box width/height, with
    ``s = (1 - min_iou) / 2``; a draw whose IoU (after clipping to the image
    and rounding to 0.01 px) falls below ``min_iou`` is rejected, and the
    spread shrinks by 20 % every 20 rejections. If nothing passes within
    ``max_tries`` the true box itself is returned (IoU 1), so the guarantee
    always holds.
    """
    box = np.asarray(box, dtype=np.float64)
    w, h = box[2] - box[0], box[3] - box[1]
    scale = np.array([w, h, w, h])
    spread = max((1.0 - min_iou) / 2.0, 1e-3)
    for t in range(max_tries):
        s = spread * (0.8 ** (t // 20))
        cand = box + rng.normal(0.0, s, size=4) * scale
        cand = np.round(np.clip(cand, 0, [img_w, img_h, img_w, img_h]), 2)
        if cand[2] - cand[0] < 1 or cand[3] - cand[1] < 1:
            continue
        if pair_iou(cand, box) >= min_iou:
            return cand
    return box.copy()

