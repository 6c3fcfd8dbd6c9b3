"""Soft class targets through the pipeline: class-split rows, merged at packing.

A fusion method that keeps the readers' class votes (:class:`~mmmulti.fusion.SoftWBF`)
writes each fused box as consecutive *class-split rows*: the same box and agreement
once per class voted, each with confidence ``c * share`` (see
:mod:`mmmulti.fusion.soft_wbf` for why rows and not a side key: the packed
labels of :mod:`.box_weights` have no room for a distribution, and identical
rows survive every box-dropping transform together). Data sets built on such
a method put :data:`CLASS_SPLIT_KEY` in every data info;
:class:`~mmmulti.datasets.transforms.PackMultiReaderInputs` then calls
:func:`merge_class_split_rows` and hands the head one gt box per cluster, with

- ``labels``: the class of the largest share (the majority class),
- ``confidences``: the sum of the rows' confidences (c),
- ``class_share_labels`` / ``class_shares``: (n, K) classes and shares, padded
  with -1 / 0 (K: most classes any box of the image got).

Rows are merged when consecutive with identical box, agreement and ignore flag.
"""
from __future__ import annotations

from typing import Tuple

import numpy as np

#: data-info / results key: True when the boxes are class-split rows
CLASS_SPLIT_KEY = 'mmmulti_class_split'


def class_split_groups(boxes: np.ndarray, agreements: np.ndarray,
                       ignore: np.ndarray) -> np.ndarray:
    """Start index of every group of consecutive identical rows."""
    n = len(boxes)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    same = np.ones(n, dtype=bool)
    same[0] = False
    if n > 1:
        same[1:] = ((boxes[1:] == boxes[:-1]).all(axis=1)
                    & (agreements[1:] == agreements[:-1]) & (ignore[1:] == ignore[:-1]))
    return np.flatnonzero(~same)


def merge_class_split_rows(
        boxes: np.ndarray, labels: np.ndarray, confidences: np.ndarray,
        agreements: np.ndarray, ignore: np.ndarray
) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Merge class-split rows into one row per box.

    Returns ``(keep, labels, confidences, share_labels, shares)``: ``keep`` indexes
    the first row of each group (its box, agreement and ignore flag stand for
    the group); ``labels`` is the class of the largest share (the first on a
    tie), ``confidences`` the group's sum, and ``share_labels`` / ``shares``
    (n, K) the group's classes and their shares of its confidence.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    conf = np.asarray(confidences, dtype=np.float32).reshape(-1)
    agreements = np.asarray(agreements, dtype=np.int64).reshape(-1)
    ignore = np.asarray(ignore).reshape(-1)
    starts = class_split_groups(boxes, agreements, ignore)
    ends = np.append(starts[1:], len(boxes))
    k = int((ends - starts).max()) if len(starts) else 1
    share_labels = np.full((len(starts), k), -1, dtype=np.int64)
    shares = np.zeros((len(starts), k), dtype=np.float32)
    out_labels = np.zeros(len(starts), dtype=np.int64)
    out_conf = np.zeros(len(starts), dtype=np.float32)
    for g, (s, e) in enumerate(zip(starts, ends)):
        c = conf[s:e].astype(np.float64)
        total = c.sum()
        share = c / total if total > 0 else np.full(e - s, 1.0 / (e - s))
        share_labels[g, :e - s] = labels[s:e]
        shares[g, :e - s] = share
        out_labels[g] = labels[s + int(np.argmax(c))]
        out_conf[g] = total
    return starts, out_labels, out_conf, share_labels, shares
