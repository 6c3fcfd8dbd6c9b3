"""Box geometry shared by the fusion methods (numpy, xyxy)."""
import numpy as np


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of (N, 4) and (M, 4) absolute xyxy boxes -> (N, M).

    Continuous coordinates (area = (x2 - x1) * (y2 - y1)), as in COCO and WBF;
    degenerate boxes have area 0.
    """
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), dtype=np.float64)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = np.clip(rb - lt, 0, None)
    inter = wh[..., 0] * wh[..., 1]
    area_a = np.clip(a[:, 2] - a[:, 0], 0, None) * np.clip(a[:, 3] - a[:, 1], 0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def agreeing_readers(out_boxes: np.ndarray, out_labels: np.ndarray, reads,
                     iou_thr: float) -> np.ndarray:
    """For each output box, how many distinct readers drew a same-label box
    overlapping it at IoU > ``iou_thr`` (at least 1: the box stands for one)."""
    counts = np.ones(len(out_boxes), dtype=np.int64)
    if len(out_boxes) == 0 or len(reads) == 0:
        return counts
    iou = box_iou(out_boxes, reads.boxes)
    same = out_labels[:, None] == reads.labels[None, :]
    hit = (iou > iou_thr) & same
    for k in range(len(out_boxes)):
        counts[k] = max(1, len(set(reads.readers[hit[k]].tolist())))
    return counts


def pair_iou(a, b) -> float:
    """IoU of two xyxy boxes (sequences of 4 numbers), in plain Python: loops that
    call it thousands of times (clustering, the simulator's jitter) avoid numpy's
    per-call overhead."""
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)
