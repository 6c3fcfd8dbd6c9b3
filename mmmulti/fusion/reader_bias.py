"""Each reader's systematic box bias, estimated against the other readers.

Some readers draw every box larger, or shifted (a habit, a different
protocol for where a finding ends). WBF averages their boxes with everyone
else's, so the fused box is pulled towards the biased reader's habit on every
finding it drew. A bias that is systematic can be estimated and undone before
fusing:

* for every pair of readers on a finding (a cluster), reader a's box against
  reader b's gives (dx, dy) = centre offset in units of their mean width and
  height and (sw, sh) = log of the width and height ratios; the median over
  the findings the two share (robust to box noise and to the odd
  mis-clustered box) estimates bias_a - bias_b;
* the biases are solved from every pair by least squares; they are
  relative, so the median reader's is set to 0: the typical reader is taken
  as unbiased (with two readers the two split the difference);
* the correction inverts the bias model of the simulator's readers
  (``ReaderProfile.intended_box``): width / e^sw, centre minus dx times the
  corrected width.

Estimation alternates with correction a few rounds (the reference is made of
corrected boxes).

Readers also differ in how tightly they draw. With independent noise of
variance v_r per reader, the difference of two readers' boxes on one finding
has variance v_r + v_q; :func:`estimate_reader_noise` solves those pair
equations (least squares over every pair of readers that shared findings) for
each v_r, from robust (median absolute deviation) pair variances, so that
coordinates can be averaged with weights 1 / v_r. Pure numpy.
"""
from __future__ import annotations

from typing import Dict, List, Sequence

import numpy as np

from mmmulti.structures import ImageReads

from .weighted_boxes import WeightedBoxes

#: (dx, dy, sw, sh) of an unbiased reader
NO_BIAS = np.zeros(4)


def _centre_size(boxes: np.ndarray) -> tuple:
    w = np.maximum(boxes[..., 2] - boxes[..., 0], 1e-6)
    h = np.maximum(boxes[..., 3] - boxes[..., 1], 1e-6)
    return (boxes[..., 0] + boxes[..., 2]) / 2, (boxes[..., 1] + boxes[..., 3]) / 2, w, h


def _pair_boxes(reads: Sequence[ImageReads], members: Sequence[WeightedBoxes]):
    """Yield (reader a, reader b, box a, box b) for every pair of readers with
    a box in one cluster (a < b; a reader's first box in the cluster)."""
    for x, fused in zip(reads, members):
        for m in fused.members:
            first: Dict[str, int] = {}
            for i, r in zip(m.tolist(), x.readers[m].tolist()):
                first.setdefault(r, i)
            names = sorted(first)
            for i in range(len(names)):
                for j in range(i + 1, len(names)):
                    yield (names[i], names[j], x.boxes[first[names[i]]],
                           x.boxes[first[names[j]]])


def _solve_pairs(pairs: Dict[tuple, np.ndarray]) -> Dict[str, np.ndarray]:
    """Per-reader values x_r from pair values y_(a, b) = x_a - x_b (least
    squares, columns of y solved together), centred on the median reader."""
    names = sorted({r for k in pairs for r in k})
    pos = {r: i for i, r in enumerate(names)}
    a = np.zeros((len(pairs), len(names)))
    for row, (r, q) in enumerate(pairs):
        a[row, pos[r]], a[row, pos[q]] = 1.0, -1.0
    x = np.linalg.lstsq(a, np.stack(list(pairs.values())), rcond=None)[0]
    x -= np.median(x, 0)
    return {r: x[pos[r]] for r in names}


def estimate_reader_bias(reads: Sequence[ImageReads], members: Sequence[WeightedBoxes],
                         min_pairs: int = 20) -> Dict[str, np.ndarray]:
    """Each reader's bias (dx, dy, sw, sh) relative to the typical reader.

    For every pair of readers on a finding, reader a's box against reader
    b's: centre offset in units of their mean width and height, log width and
    height ratio; the median over the pair's findings is b_a - b_b, and the
    biases are solved from all pairs (least squares), the median reader's set
    to 0. Pairs seen on fewer than ``min_pairs`` findings are left out.
    """
    found: Dict[tuple, List[np.ndarray]] = {}
    for r, q, ba, bb in _pair_boxes(reads, members):
        acx, acy, aw, ah = _centre_size(ba)
        bcx, bcy, bw, bh = _centre_size(bb)
        found.setdefault((r, q), []).append(np.array(
            [2 * (acx - bcx) / (aw + bw), 2 * (acy - bcy) / (ah + bh),
             np.log(aw / bw), np.log(ah / bh)]))
    pairs = {k: np.median(np.stack(v), 0) for k, v in found.items() if len(v) >= min_pairs}
    return _solve_pairs(pairs) if pairs else {}


def estimate_reader_noise(reads: Sequence[ImageReads], members: Sequence[WeightedBoxes],
                          min_pairs: int = 20) -> Dict[str, float]:
    """Each reader's box noise variance v_r (coordinates in units of the box's
    size), from the pairs of readers' boxes that share a cluster; readers in
    fewer than ``min_pairs`` pairs are left out."""
    pairs: Dict[tuple, List[np.ndarray]] = {}
    for r, q, ba, bb in _pair_boxes(reads, members):
        size = np.array([ba[2] - ba[0] + bb[2] - bb[0], ba[3] - ba[1] + bb[3] - bb[1]] * 2) / 2
        pairs.setdefault((r, q), []).append((ba - bb) / np.maximum(size, 1e-6))
    pairs = {k: np.stack(v) for k, v in pairs.items() if len(v) >= min_pairs}
    names = sorted({r for k in pairs for r in k})
    if not names:
        return {}
    pos = {r: i for i, r in enumerate(names)}
    a = np.zeros((len(pairs), len(names)))
    y = np.zeros(len(pairs))
    for row, ((r, q), d) in enumerate(pairs.items()):
        a[row, pos[r]] = a[row, pos[q]] = 1.0
        mad = np.median(np.abs(d - np.median(d, 0)), 0) * 1.4826
        y[row] = float(np.mean(mad ** 2))
    v = np.linalg.lstsq(a, y, rcond=None)[0]
    floor = 1e-3 * max(float(y.max()), 1e-12)
    return {r: float(max(v[pos[r]], floor)) for r in names}


def correct_reads(reads: ImageReads, bias: Dict[str, np.ndarray]) -> ImageReads:
    """The image's reads with every reader's bias undone (clipped to the image)."""
    if not bias or not len(reads):
        return reads
    b = np.stack([bias.get(r, NO_BIAS) for r in reads.readers.tolist()])
    cx, cy, w, h = _centre_size(reads.boxes)
    w, h = w / np.exp(b[:, 2]), h / np.exp(b[:, 3])
    cx, cy = cx - b[:, 0] * w, cy - b[:, 1] * h
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1)
    boxes = np.clip(boxes, 0, [reads.width, reads.height, reads.width, reads.height])
    return ImageReads(boxes, reads.labels, reads.readers, reads.image_readers, reads.width,
                      reads.height, reads.scores)


def compose(total: Dict[str, np.ndarray], step: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """The bias of boxes corrected by ``total`` then found biased by ``step``
    (to first order, shifts and log-scales add)."""
    out = dict(total)
    for r, b in step.items():
        out[r] = out.get(r, NO_BIAS) + b
    return out


__all__ = ['estimate_reader_bias', 'estimate_reader_noise', 'correct_reads', 'compose', 'NO_BIAS']
