"""One-to-one box matching, pure numpy.

Used to compare one reader's boxes with another reader's or with the fused
consensus. IoU is the fusion methods' own (:func:`mmmulti.fusion.geometry.box_iou`).
"""
from __future__ import annotations

import numpy as np

from mmmulti.fusion.geometry import box_iou


def match_boxes(boxes_a: np.ndarray, labels_a: np.ndarray,
                boxes_b: np.ndarray, labels_b: np.ndarray,
                iou_thr: float) -> list[tuple[int, int, float]]:
    """Greedy one-to-one matching of two box sets, same class only.

    Pairs are taken in order of decreasing IoU while IoU >= ``iou_thr``; each
    box is used at most once. Returns ``[(index_a, index_b, iou), ...]``.
    """
    ious = box_iou(boxes_a, boxes_b)
    if ious.size == 0:
        return []
    la = np.asarray(labels_a).reshape(-1)
    lb = np.asarray(labels_b).reshape(-1)
    ious = np.where(la[:, None] == lb[None, :], ious, -1.0)
    ia, ib = np.nonzero(ious >= iou_thr)
    if len(ia) == 0:
        return []
    order = np.lexsort((ib, ia, -ious[ia, ib]))  # by IoU desc, ties by index
    used_a: set[int] = set()
    used_b: set[int] = set()
    pairs = []
    for k in order:
        i, j = int(ia[k]), int(ib[k])
        if i in used_a or j in used_b:
            continue
        used_a.add(i)
        used_b.add(j)
        pairs.append((i, j, float(ious[i, j])))
    return pairs
