"""Box IoU and one-to-one matching, pure numpy.

Used to compare one reader's boxes with another reader's or with the fused
consensus, and by the simulator to check that a reader's jittered box keeps
the required overlap with the true box.
"""
from __future__ import annotations

import numpy as np


def box_iou(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of absolute xyxy boxes, (N, 4) x (M, 4) -> (N, M).

    Continuous coordinates (area = (x2 - x1) * (y2 - y1)), as in COCO and WBF.
    """
    a = np.asarray(boxes_a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(boxes_b, dtype=np.float64).reshape(-1, 4)
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), dtype=np.float64)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = np.clip(rb - lt, 0, None)
    inter = wh[..., 0] * wh[..., 1]
    area_a = np.clip(a[:, 2] - a[:, 0], 0, None) * np.clip(a[:, 3] - a[:, 1], 0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


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
