"""Weighted Boxes Fusion of the readers' boxes, with the readers' agreement.

The paper's confidence of a fused box is c = min(n, R) / R, with n the number
of distinct readers with a box in its WBF cluster and R the readers of the
image (a reader who drew the finding twice counts once; both boxes still
enter the fused coordinates). ``ensemble_boxes`` returns fused boxes, scores
and labels but not the clusters, and with reader weights n cannot be read
back from its scores (the score mixes the weights and the box count). So the default ``backend='exact'`` is a line-by-line port of
``ensemble_boxes.weighted_boxes_fusion`` (1.0.x) that also records each
cluster's members: same prefilter, same sort calls (so ties break the same
way), same float32 rounding of the running fused box. Its boxes, scores and
labels are bit-identical to the library's (``tests/test_fusion_wbf.py`` checks
this on thousands of random images with ties, weights and every
``conf_type``), and skipping the library's per-call overhead makes it several
times faster.

``backend='ensemble_boxes'`` calls the library itself (boxes, SCORES, LABELS,
in its documented order). It needs unit reader weights and unit box scores:
then every box enters with score 1 and weight 1, the library's 'avg' score is
exactly min(boxes, T) / T with T = R lists, and the box count is recovered as
round(score * R). That count equals the distinct readers only when no reader
drew two boxes of one class on the image; otherwise the agreement is taken
from the exact port's clusters (same output order).
"""
from __future__ import annotations

import struct
from typing import Dict, List, Optional, Sequence

import numpy as np

from .registry import FUSION_METHODS
from .base import (BaseFusion, FusedBoxes, ImageReads, agreement_confidence,
                   default_workers, distinct_readers, progress)

CONF_TYPES = ('avg', 'max', 'box_and_model_avg', 'absent_model_aware_avg')

_F32 = struct.Struct('f')


def _f32(x: float) -> float:
    """Round a double to float32 and back (numpy's float32 store)."""
    return _F32.unpack(_F32.pack(x))[0]


# argsort of a tuple of keys; np.argsort is deterministic in the values, so a
# cache keyed on the values returns exactly what a fresh call would.
_ARGSORT_CACHE: Dict[tuple, list] = {}


def _desc_order(keys: list) -> list:
    """``np.array(keys).argsort()[::-1]``, as ensemble_boxes sorts."""
    n = len(keys)
    if n == 1:
        return [0]
    k = tuple(keys)
    order = _ARGSORT_CACHE.get(k)
    if order is None:
        order = np.asarray(keys, dtype=np.float64).argsort()[::-1].tolist()
        if len(_ARGSORT_CACHE) > 100000:
            _ARGSORT_CACHE.clear()
        _ARGSORT_CACHE[k] = order
    return order


def _weighted_box(acc: list, b: list, n: int, conf_type: str) -> list:
    """Port of ``ensemble_boxes_wbf.get_weighted_box``, incrementally.

    The library recomputes the fused box from the whole member list at every
    merge; its float32 partial sums over members 1..k are the same whatever
    comes later, so ``acc`` = [x1, y1, x2, y2 (float32 sums), conf, w, max]
    is extended by the new member ``b`` and gives the identical result.
    Returns the cluster's fused row; ``acc`` is updated in place.
    """
    s = b[1]
    acc[0] = _f32(acc[0] + s * b[4])
    acc[1] = _f32(acc[1] + s * b[5])
    acc[2] = _f32(acc[2] + s * b[6])
    acc[3] = _f32(acc[3] + s * b[7])
    acc[4] += s
    acc[5] += b[2]
    if s > acc[6]:
        acc[6] = s
    conf = acc[4]
    score = _f32(acc[6]) if conf_type == 'max' else _f32(conf / n)
    return [b[0], score, _f32(acc[5]), -1.0,
            _f32(acc[0] / conf), _f32(acc[1] / conf), _f32(acc[2] / conf),
            _f32(acc[3] / conf)]


def _new_accumulator(b: list) -> list:
    """Accumulator of a one-box cluster (see :func:`_weighted_box`)."""
    s = b[1]
    return [_f32(s * b[4]), _f32(s * b[5]), _f32(s * b[6]), _f32(s * b[7]), s, b[2], s]


def _best_match(clusters: list, nb: list, iou_thr: float) -> int:
    """Port of ``find_matching_box_fast``: first cluster of highest IoU > thr."""
    nx1, ny1, nx2, ny2 = nb[4], nb[5], nb[6], nb[7]
    b_area = (nx2 - nx1) * (ny2 - ny1)
    best, best_iou = -1, None
    for k, c in enumerate(clusters):
        cx1, cy1, cx2, cy2 = c[4], c[5], c[6], c[7]
        xa = cx1 if cx1 >= nx1 else nx1
        ya = cy1 if cy1 >= ny1 else ny1
        xb = cx2 if cx2 <= nx2 else nx2
        yb = cy2 if cy2 <= ny2 else ny2
        iw = xb - xa
        ih = yb - ya
        inter = (iw if iw > 0 else 0.0) * (ih if ih > 0 else 0.0)
        iou = inter / ((cx2 - cx1) * (cy2 - cy1) + b_area - inter)
        if best_iou is None or iou > best_iou:
            best, best_iou = k, iou
    if best_iou is None or best_iou <= iou_thr:
        return -1
    return best


def prefilter(boxes: np.ndarray, scores: np.ndarray, skip_box_thr: float) -> tuple:
    """Vectorised port of ensemble_boxes' prefilter checks.

    Swaps inverted corners, clamps to [0, 1], drops boxes whose score is below
    ``skip_box_thr`` or whose (clamped) area is 0. Returns the keep mask and
    the cleaned boxes; row values equal the library's.
    """
    b = np.array(boxes, dtype=np.float64, copy=True).reshape(-1, 4)
    x1 = np.minimum(b[:, 0], b[:, 2])
    x2 = np.maximum(b[:, 0], b[:, 2])
    y1 = np.minimum(b[:, 1], b[:, 3])
    y2 = np.maximum(b[:, 1], b[:, 3])
    b = np.clip(np.stack([x1, y1, x2, y2], axis=1), 0.0, 1.0)
    keep = ~(scores < skip_box_thr)
    keep &= ((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])) != 0.0
    return keep, b


def wbf_clusters(rows: list, num_models: int, weights: list, weights_sum: float,
                 iou_thr: float, conf_type: str, allows_overflow: bool = False) -> list:
    """The WBF of one image, with the members of every fused box.

    Args:
        rows: prefiltered boxes in ensemble_boxes' input order (model by
            model, then box order), each
            ``[label, score * w_t, w_t, t, x1, y1, x2, y2, input_index]``.
        num_models, weights, weights_sum: T, the per-model weights, and
            ``np.sum(weights)`` (computed by the caller with numpy).

    Returns:
        list of ``(label, score, x1, y1, x2, y2, members)`` in the library's
        output order, ``members`` being the input indices of the cluster.
    """
    if not rows:
        return []
    by_label: Dict[float, list] = {}
    for r in rows:
        lst = by_label.get(r[0])
        if lst is None:
            by_label[r[0]] = [r]
        else:
            lst.append(r)
    out = []
    for label_rows in by_label.values():
        order = _desc_order([r[1] for r in label_rows])
        clusters: list = []   # running fused box per cluster
        members: list = []    # the rows of each cluster
        accs: list = []       # float32 partial sums of each cluster
        for j in order:
            r = label_rows[j]
            k = _best_match(clusters, r, iou_thr) if clusters else -1
            if k != -1:
                members[k].append(r)
                clusters[k] = _weighted_box(accs[k], r, len(members[k]), conf_type)
            else:
                members.append([r])
                clusters.append(r)
                accs.append(_new_accumulator(r))
        for c, m in zip(clusters, members):
            s = c[1]
            n = len(m)
            if conf_type == 'box_and_model_avg':
                s = s * n / c[2]
                arr = np.array([r[:8] for r in m], dtype=np.float64)
                _, idx = np.unique(arr[:, 3], return_index=True)
                s = s * arr[idx, 2].sum() / weights_sum
            elif conf_type == 'absent_model_aware_avg':
                present = {int(r[3]) for r in m}
                mask = np.ones(num_models, dtype=bool)
                mask[list(present)] = False
                s = s * n / (c[2] + np.asarray(weights, dtype=np.float64)[mask].sum())
            elif conf_type == 'max':
                s = s / max(weights)
            elif not allows_overflow:
                s = s * min(num_models, n) / weights_sum
            else:
                s = s * n / weights_sum
            out.append((c[0], s, c[4], c[5], c[6], c[7], [r[8] for r in m]))
    order = _desc_order([o[1] for o in out])
    return [out[i] for i in order]


@FUSION_METHODS.register_module()
class WBF(BaseFusion):
    """Weighted Boxes Fusion of the readers' boxes (truth inference).

    Each reader of an image is one input list of WBF (a reader who drew
    nothing gives an empty list but still counts in R). Boxes are normalised
    to [0, 1] by the image size and scaled back.

    Args:
        iou_thr (float): IoU above which a box joins a cluster (paper: 0.4).
        skip_box_thr (float): boxes scoring below are ignored (reader boxes
            score 1; useful when fusing model predictions).
        conf_type (str): ensemble_boxes' score rule, used when
            ``score_mode='wbf'``.
        reader_weights (dict, optional): reader id -> weight (default 1).
        score_mode (str): 'agreement' (default): confidence
            c = min(n, R) / R, n = distinct readers in the cluster; 'wbf': the score
            ensemble_boxes computes with ``conf_type`` and the weights.
            In both modes ``agreement`` = n, distinct readers in the cluster.
        backend (str): 'exact' (port with cluster members, default) or
            'ensemble_boxes' (calls the library; unit weights and scores only).
        workers (int): processes for :meth:`fuse_dataset`; 1 (default) runs in
            this process. The exact backend is fast enough that processes pay
            off only on large data sets and free cores.
    """

    #: smaller data sets are fused in this process even when workers > 1
    pool_min_images = 2000

    def __init__(self, iou_thr: float = 0.4, skip_box_thr: float = 0.0,
                 conf_type: str = 'avg', reader_weights: Optional[dict] = None,
                 score_mode: str = 'agreement', backend: str = 'exact',
                 workers: int = 1, progress: bool = True) -> None:
        super().__init__(progress=progress)
        if conf_type not in CONF_TYPES:
            raise ValueError(f'conf_type must be one of {CONF_TYPES}, got {conf_type!r}')
        if score_mode not in ('agreement', 'wbf'):
            raise ValueError(f"score_mode must be 'agreement' or 'wbf', got {score_mode!r}")
        if backend not in ('exact', 'ensemble_boxes'):
            raise ValueError(f"backend must be 'exact' or 'ensemble_boxes', got {backend!r}")
        if not 0.0 <= iou_thr < 1.0:
            raise ValueError(f'iou_thr must be in [0, 1), got {iou_thr}')
        self.iou_thr = float(iou_thr)
        self.skip_box_thr = float(skip_box_thr)
        self.conf_type = conf_type
        self.reader_weights = dict(reader_weights) if reader_weights else None
        if self.reader_weights:
            bad = {r: w for r, w in self.reader_weights.items() if not w > 0}
            if bad:
                raise ValueError(f'reader weights must be > 0, got {bad}')
        self.score_mode = score_mode
        self.backend = backend
        self.workers = default_workers() if workers is None else int(workers)
        self._weights_sum_cache: Dict[tuple, float] = {}

    # -- helpers -----------------------------------------------------------------
    def _weights(self, image_readers: Sequence[str]) -> list:
        rw = self.reader_weights
        if not rw:
            return [1.0] * len(image_readers)
        return [float(rw.get(r, 1.0)) for r in image_readers]

    def _weights_sum(self, weights: list) -> float:
        key = tuple(weights)
        s = self._weights_sum_cache.get(key)
        if s is None:
            s = np.asarray(weights, dtype=np.float64).sum()
            self._weights_sum_cache[key] = s
        return s

    @staticmethod
    def _model_index(reads: ImageReads) -> np.ndarray:
        pos = {r: t for t, r in enumerate(reads.image_readers)}
        try:
            return np.fromiter((pos[r] for r in reads.readers), dtype=np.int64,
                               count=len(reads.readers))
        except KeyError as e:
            raise ValueError(f'box of reader {e.args[0]!r} on an image read by '
                             f'{reads.image_readers}') from None

    def _rows(self, reads: ImageReads, norm: np.ndarray, keep: np.ndarray,
              model: np.ndarray, scores: np.ndarray, weights: list) -> list:
        """Prefiltered rows in ensemble_boxes' input order (by reader, stable)."""
        order = np.argsort(model, kind='stable')
        order = order[keep[order]]
        labels = reads.labels[order].tolist()
        tt = model[order].tolist()
        ss = scores[order].tolist()
        bb = norm[order].tolist()
        rows = []
        for i, lab, t, s, b in zip(order.tolist(), labels, tt, ss, bb):
            w = weights[t]
            rows.append([float(lab), s * w, w, float(t), b[0], b[1], b[2], b[3], i])
        return rows

    def _finish(self, reads: ImageReads, fused: list) -> FusedBoxes:
        if not fused:
            return FusedBoxes.empty()
        arr = np.array([f[:6] for f in fused], dtype=np.float64)
        boxes = arr[:, 2:6] * np.array([reads.width, reads.height,
                                        reads.width, reads.height])
        counts = distinct_readers(reads, [f[6] for f in fused])
        conf, agree = agreement_confidence(counts, reads.num_readers)
        if self.score_mode == 'wbf':
            conf = np.clip(arr[:, 1], np.finfo(np.float32).tiny, 1.0)
        else:
            conf = self._confidence(reads, fused, conf)
        return FusedBoxes(boxes, arr[:, 0].astype(np.int64), conf, agree)

    def _confidence(self, reads: ImageReads, fused: list, conf: np.ndarray) -> np.ndarray:
        """Hook for weighted confidences (reader reliability); default: c."""
        return conf

    def _check(self, reads: ImageReads) -> bool:
        """False when there is nothing to fuse."""
        if reads.num_readers == 0:
            if len(reads):
                raise ValueError('image with boxes but no readers')
            return False
        return len(reads) > 0

    # -- fusion ------------------------------------------------------------------
    def fuse_members(self, reads: ImageReads) -> list:
        """The exact WBF of one image with the input indices of each cluster."""
        if not self._check(reads):
            return []
        model = self._model_index(reads)
        weights = self._weights(reads.image_readers)
        scores = reads.box_scores()
        norm = reads.boxes / np.array([reads.width, reads.height,
                                       reads.width, reads.height])
        keep, norm = prefilter(norm, scores, self.skip_box_thr)
        rows = self._rows(reads, norm, keep, model, scores, weights)
        return wbf_clusters(rows, len(weights), weights, self._weights_sum(weights),
                            self.iou_thr, self.conf_type)

    def fuse(self, reads: ImageReads) -> FusedBoxes:
        if self.backend == 'ensemble_boxes':
            return self._fuse_library(reads)
        return self._finish(reads, self.fuse_members(reads))

    def _fuse_library(self, reads: ImageReads) -> FusedBoxes:
        from ensemble_boxes import weighted_boxes_fusion
        if not self._check(reads):
            return FusedBoxes.empty()
        if self.reader_weights and any(w != 1.0 for w in self.reader_weights.values()):
            raise ValueError("backend='ensemble_boxes' cannot recover the cluster size "
                             "with reader weights; use backend='exact'")
        if reads.scores is not None and np.any(reads.scores != 1.0):
            raise ValueError("backend='ensemble_boxes' needs unit box scores; "
                             "use backend='exact'")
        model = self._model_index(reads)
        R = reads.num_readers
        wh = np.array([reads.width, reads.height, reads.width, reads.height])
        boxes_list = [reads.boxes[model == t] / wh for t in range(R)]
        scores_list = [np.ones(int((model == t).sum())) for t in range(R)]
        labels_list = [reads.labels[model == t] for t in range(R)]
        # documented order: boxes, scores, labels
        b, s, lab = weighted_boxes_fusion(boxes_list, scores_list, labels_list,
                                          weights=None, iou_thr=self.iou_thr,
                                          skip_box_thr=self.skip_box_thr, conf_type='avg')
        if len(b) == 0:
            return FusedBoxes.empty()
        counts = np.rint(s * R).astype(np.int64)   # s == min(boxes, R) / R exactly
        if _reader_drew_a_class_twice(model, reads.labels):
            # box count != reader count; the exact port gives the clusters
            members = [f[6] for f in self.fuse_members(reads)]
            if len(members) != len(b):
                raise RuntimeError('exact WBF port and ensemble_boxes disagree on the '
                                   'number of fused boxes')
            counts = distinct_readers(reads, members)
        conf, agree = agreement_confidence(counts, R)
        if self.score_mode == 'wbf' and self.conf_type != 'avg':
            _, conf, _ = weighted_boxes_fusion(boxes_list, scores_list, labels_list,
                                               weights=None, iou_thr=self.iou_thr,
                                               skip_box_thr=self.skip_box_thr,
                                               conf_type=self.conf_type)
        elif self.score_mode == 'wbf':
            conf = s
        return FusedBoxes(b * wh, lab.astype(np.int64), conf, agree)

    def fuse_dataset(self, reads: Sequence[ImageReads]) -> List[FusedBoxes]:
        """Fuse every image; same output as ``[self.fuse(r) for r in reads]``.

        The exact backend normalises and prefilters all boxes in one
        vectorised pass, then clusters image by image (optionally in
        ``workers`` processes, in chunks).
        """
        reads = list(reads)
        if self.backend != 'exact':
            return super().fuse_dataset(reads)
        members = self.fuse_dataset_members(reads)
        return [self._finish(r, m) for r, m in zip(reads, members)]

    def fuse_dataset_members(self, reads: Sequence[ImageReads]) -> List[list]:
        """:meth:`fuse_members` of every image (exact backend)."""
        reads = list(reads)
        if self.workers > 1 and len(reads) >= self.pool_min_images:
            return _pool_map(self, reads, self.workers, self.progress)
        return self._members_many(reads,
                                  show=self.progress and len(reads) > self.progress_min)

    def _members_many(self, reads: List[ImageReads], show: bool = False) -> List[list]:
        if not reads:
            return []
        sizes = np.fromiter((len(r) for r in reads), dtype=np.int64, count=len(reads))
        if sizes.sum():
            wh = np.repeat(np.array([[r.width, r.height, r.width, r.height] for r in reads],
                                    dtype=np.float64), sizes, axis=0)
            all_scores = np.concatenate([r.box_scores() for r in reads])
            keep_all, norm_all = prefilter(np.concatenate([r.boxes for r in reads]) / wh,
                                           all_scores, self.skip_box_thr)
        ends = np.cumsum(sizes)
        out = []
        it = progress(range(len(reads)), len(reads), type(self).__name__, show)
        for i in it:
            r = reads[i]
            if not self._check(r):
                out.append([])
                continue
            a, b = ends[i] - sizes[i], ends[i]
            model = self._model_index(r)
            weights = self._weights(r.image_readers)
            rows = self._rows(r, norm_all[a:b], keep_all[a:b], model, all_scores[a:b],
                              weights)
            out.append(wbf_clusters(rows, len(weights), weights, self._weights_sum(weights),
                                    self.iou_thr, self.conf_type))
        return out


def _reader_drew_a_class_twice(model: np.ndarray, labels: np.ndarray) -> bool:
    """True when some reader has two boxes of one class on the image."""
    if len(model) < 2:
        return False
    pairs = np.stack([model, labels.astype(np.int64)], axis=1)
    return len(np.unique(pairs, axis=0)) < len(pairs)


def _members_chunk(args: tuple) -> List[list]:
    method, chunk = args
    return method._members_many(chunk)


def _pool_map(method: WBF, reads: List[ImageReads], workers: int,
              show: bool) -> List[list]:
    """Chunked process-pool map of ``method._members_many`` (order kept)."""
    import multiprocessing as mp
    chunk = max(200, len(reads) // (workers * 8))
    chunks = [reads[i:i + chunk] for i in range(0, len(reads), chunk)]
    ctx = mp.get_context('fork') if 'fork' in mp.get_all_start_methods() else mp.get_context()
    out: List[list] = []
    with ctx.Pool(workers) as pool:
        it = pool.imap(_members_chunk, [(method, c) for c in chunks])
        for res in progress(it, len(chunks), type(method).__name__ + ' (chunks)', show):
            out.extend(res)
    return out
