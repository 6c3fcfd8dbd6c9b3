"""WBF whose confidence is a calibrated probability that the finding is real.

WBF's confidence c = agreement / R says a box drawn by 1 of 2 readers is worth
0.5. Held out, a third reader confirms such boxes far less often (about a
quarter of the time on VinDr-CXR-like readers): c ranks boxes but is not a
probability. ``CalibratedWBF`` keeps WBF's clusters and fused boxes exactly and
replaces c by P(this cluster is a real finding of its class | which readers
drew it, which read the image and drew nothing there, its class and size),
from a per-reader model of sensitivity and false-positive rate fitted by EM
over the data set (:mod:`mmmulti.fusion.reader_rates`).

Unlike :class:`~mmmulti.fusion.PresenceWBF`, every cluster is kept by default
(``min_confidence=0``): a likely-spurious box trains with a small EARL weight
instead of disappearing. Its clusters are per class, as WBF's, so "real" means
"a true finding of this class here": the same event a held-out reader
confirms (same class, IoU >= 0.4), which lets held-out validation predict the
confirmation rate from the model: P(real) s_h + (1 - P(real)) f_h
(:meth:`CalibratedWBF.predict_confirmation`).
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Dict, List, Optional, Sequence

import numpy as np

from .base import FusedBoxes, ImageReads
from .geometry import box_iou
from .reader_rates import ReaderRateModel, ReaderRates
from .registry import FUSION_METHODS
from .wbf import WBF
from .weighted_boxes import WeightedBoxes


def cluster_votes(reads: Sequence[ImageReads], members: Sequence[WeightedBoxes],
                  readers: Sequence[str]) -> tuple:
    """(clusters, readers) arrays ``drew`` (the reader has a box in the
    cluster) and ``read`` (the reader read the cluster's image), in image order."""
    pos = {r: i for i, r in enumerate(readers)}
    rows = sum(len(m) for m in members)
    drew = np.zeros((rows, len(readers)))
    read = np.zeros_like(drew)
    g = 0
    for x, fused in zip(reads, members):
        n = len(fused)
        if not n:
            continue
        read[g:g + n, [pos[r] for r in x.image_readers]] = 1.0
        for k, m in enumerate(fused.members):
            drew[g + k, [pos[r] for r in set(x.readers[m].tolist())]] = 1.0
        g += n
    return drew, read


def coincidence_rates(reads: Sequence[ImageReads], members: Sequence[WeightedBoxes],
                      readers: Sequence[str], iou_thr: float, seed: int = 0,
                      max_clusters: int = 4000) -> np.ndarray:
    """Per reader, the chance that one of its boxes lands on a cluster by
    coincidence: each of up to ``max_clusters`` clusters is laid on another
    image the reader read (drawn at random), and a hit is a box of the
    cluster's class there with IoU above ``iou_thr``. A made-up box has no
    finding under it, so another reader's box on it is exactly such a
    coincidence; where images share a layout (chest X-rays), so do the
    places readers draw, and the other image keeps that. Pseudo-counts 1 / 2
    keep every rate off 0."""
    rng = np.random.default_rng(seed)
    boxes_of = []   # per image: reader -> (normalised boxes, labels)
    for x in reads:
        wh = np.array([x.width, x.height, x.width, x.height], dtype=np.float64)
        per = {}
        for r in set(x.readers.tolist()):
            sel = x.readers == r
            per[r] = (x.boxes[sel] / wh, x.labels[sel])
        boxes_of.append(per)
    clusters = [(i, k) for i, m in enumerate(members) for k in range(len(m))]
    if len(clusters) > max_clusters:
        pick = rng.choice(len(clusters), max_clusters, replace=False)
        clusters = [clusters[j] for j in np.sort(pick)]
    read_by = {r: [] for r in readers}
    for i, x in enumerate(reads):
        for r in x.image_readers:
            read_by[r].append(i)
    out = np.zeros(len(readers))
    for t, r in enumerate(readers):
        pool = np.asarray(read_by[r])
        hits = tries = 0
        if len(pool) >= 2:
            others = pool[rng.integers(len(pool), size=len(clusters))]
            for (i, k), j in zip(clusters, others):
                if j == i:
                    continue
                tries += 1
                b, lab = boxes_of[j].get(r, (None, None))
                if b is None:
                    continue
                same = lab == members[i].labels[k]
                if same.any() and (box_iou(members[i].boxes[k:k + 1], b[same]) > iou_thr).any():
                    hits += 1
        out[t] = (1.0 + hits) / (2.0 + tries)
    return out


@FUSION_METHODS.register_module()
class CalibratedWBF(WBF):
    """WBF boxes; confidence = P(real finding), from fitted reader rates.

    Args:
        iou_thr, skip_box_thr, conf_type: as :class:`~mmmulti.fusion.WBF`.
        class_prior (bool): let the prior P(real) depend on the class.
        size_bins (int): quantile bins of box size for the prior (default 0:
            none; on the simulator, where made-up boxes are sized like real
            ones, bins only add noise).
        shrink (float): pseudo-clusters pulling each (class, size) prior to
            the overall rate.
        truncation (bool): correct the sensitivities for findings no reader
            drew (:mod:`~mmmulti.fusion.reader_rates`).
        min_confidence (float): drop clusters below this (default 0: keep all).
        max_iter, tol: EM limits; ``em`` records how the fit ended.
        seed (int): the draw of other images for the coincidence rates.

    After :meth:`fuse_dataset`: ``model`` (:class:`ReaderRates`),
    ``reader_estimates``, ``em``, ``dropped`` and :meth:`report`.
    """

    dataset_level = True
    #: held-out validation fits the reader model on the other half of the
    #: images with every reader (a 2-fold cross-fit) and fuses the held-out
    #: fold's remaining readers under it: two readers alone cannot identify it
    crossfit_heldout = True

    def __init__(self, iou_thr: float = 0.4, skip_box_thr: float = 0.0,
                 conf_type: str = 'avg', class_prior: bool = True, size_bins: int = 0,
                 shrink: float = 20.0, truncation: bool = True, min_confidence: float = 0.0,
                 max_iter: int = 500, tol: float = 1e-5, seed: int = 0,
                 progress: bool = True) -> None:
        super().__init__(iou_thr=iou_thr, skip_box_thr=skip_box_thr, conf_type=conf_type,
                         progress=progress)
        if not 0.0 <= min_confidence < 1.0:
            raise ValueError(f'min_confidence must be in [0, 1), got {min_confidence}')
        if int(size_bins) < 0:
            raise ValueError(f'size_bins must be >= 0, got {size_bins}')
        self._em_model = ReaderRateModel(max_iter=max_iter, tol=tol, shrink=shrink,
                                         truncation=truncation)
        self.class_prior = bool(class_prior)
        self.size_bins = int(size_bins)
        self.shrink = float(shrink)
        self.truncation = bool(truncation)
        self.min_confidence = float(min_confidence)
        self.max_iter = int(max_iter)
        self.tol = float(tol)
        self.seed = int(seed)
        self.model: Optional[ReaderRates] = None
        self.reader_estimates: Dict[str, dict] = OrderedDict()
        self.em: Optional[dict] = None
        self._size_edges = np.zeros(0)
        self._num_classes = 1
        self.clusters = 0
        self.dropped = 0

    # -- cells of the prior ----------------------------------------------------------
    @staticmethod
    def _sizes(members: Sequence[WeightedBoxes]) -> np.ndarray:
        """sqrt of each cluster's normalised area."""
        out = [np.sqrt(np.clip((m.boxes[:, 2] - m.boxes[:, 0]) * (m.boxes[:, 3] - m.boxes[:, 1]),
                               0, None)) for m in members if len(m)]
        return np.concatenate(out) if out else np.zeros(0)

    def _cells(self, members: Sequence[WeightedBoxes]) -> np.ndarray:
        labels = [m.labels for m in members if len(m)]
        labels = np.concatenate(labels).astype(np.int64) if labels else np.zeros(0, np.int64)
        cls = np.clip(labels, 0, self._num_classes - 1) if self.class_prior else 0 * labels
        size = np.searchsorted(self._size_edges, self._sizes(members), side='right')
        return cls * (len(self._size_edges) + 1) + size

    @property
    def _num_cells(self) -> int:
        return (self._num_classes if self.class_prior else 1) * (len(self._size_edges) + 1)

    # -- fitting -----------------------------------------------------------------------
    def fuse_dataset(self, reads: Sequence[ImageReads]) -> List[FusedBoxes]:
        reads = list(reads)
        readers = sorted({r for x in reads for r in x.image_readers})
        members = self.fuse_dataset_members(reads)
        labels = [x.labels.max() for x in reads if len(x)]
        self._num_classes = int(max(labels)) + 1 if labels else 1
        sizes = self._sizes(members)
        if self.size_bins > 1 and len(sizes) >= 10 * self.size_bins:
            self._size_edges = np.unique(np.quantile(
                sizes, np.linspace(0, 1, self.size_bins + 1)[1:-1]))
        else:
            self._size_edges = np.zeros(0)
        drew, read = cluster_votes(reads, members, readers)
        coincidence = coincidence_rates(reads, members, readers, self.iou_thr, self.seed)
        images_read = np.zeros(len(readers))
        pos = {r: i for i, r in enumerate(readers)}
        for x in reads:
            images_read[[pos[r] for r in x.image_readers]] += 1
        post, self.model = self._em_model.fit(drew, read, self._cells(members),
                                              self._num_cells, readers, coincidence,
                                              images_read, len(reads),
                                              name='CalibratedWBF reader-rate EM')
        self.em = self.model.em.as_dict()
        self._estimates(reads, drew, post)
        self.clusters, self.dropped = len(post), 0
        out, g = [], 0
        for x, fused in zip(reads, members):
            out.append(self._calibrated(x, fused, post[g:g + len(fused)]))
            g += len(fused)
        return out

    def _calibrated(self, reads: ImageReads, fused: WeightedBoxes,
                    post: np.ndarray) -> FusedBoxes:
        out = self._finish(reads, fused)
        if not len(out):
            return out
        out.confidences = np.clip(post, np.finfo(np.float32).tiny, 1.0).astype(np.float32)
        keep = out.confidences >= self.min_confidence
        self.dropped += int((~keep).sum())
        return FusedBoxes(out.boxes[keep], out.labels[keep], out.confidences[keep],
                          out.agreement[keep])

    def fuse(self, reads: ImageReads) -> FusedBoxes:
        """One image under the fitted model (WBF's c before :meth:`fuse_dataset`;
        a reader the fit did not see gets the mean rates of those it did). The
        model's rates are per image, so any subset of readers can be fused
        under a model fitted with all of them."""
        fused = self.fuse_members(reads)
        if self.model is None or not len(fused):
            return self._finish(reads, fused)
        readers = list(reads.image_readers)
        drew, read = cluster_votes([reads], [fused], readers)
        post = self._em_model.posterior(self.model.subset(readers), drew, read,
                                        self._cells([fused]))
        return self._calibrated(reads, fused, post)

    # -- held-out prediction and reporting -------------------------------------------------
    def predict_confirmation(self, confidences: np.ndarray, reader: str) -> np.ndarray:
        """P(reader confirms the box) = P(real) s + (1 - P(real)) f, with the
        reader's fitted sensitivity s and false-positive rate f."""
        if self.model is None or reader not in self.model.readers:
            raise ValueError(f'CalibratedWBF: no fitted rates for reader {reader!r}')
        i = self.model.readers.index(reader)
        s, f = self.model.sensitivity[i], self.model.coincidence[i]
        p = np.asarray(confidences, dtype=np.float64)
        return p * s + (1.0 - p) * f

    def _estimates(self, reads: Sequence[ImageReads], drew: np.ndarray,
                   post: np.ndarray) -> None:
        images: Dict[str, int] = {}
        for x in reads:
            for r in x.image_readers:
                images[r] = images.get(r, 0) + 1
        est: Dict[str, dict] = OrderedDict()
        for i, r in enumerate(self.model.readers):
            mine = drew[:, i] > 0
            est[r] = dict(boxes=int(mine.sum()), images=int(images.get(r, 0)),
                          sensitivity=float(self.model.sensitivity[i]),
                          coincidence=float(self.model.coincidence[i]),
                          false_positives_per_image=float(self.model.made_up[i]),
                          precision=float(post[mine].mean()) if mine.any() else float('nan'))
        self.reader_estimates = est

    def report(self) -> str:
        """The readers' fitted rates and how the EM ended, printable."""
        if self.model is None:
            return 'CalibratedWBF: not fitted (call fuse_dataset first)'
        lines = [f'reader rates (EM: {self.model.em.describe()}); prior P(real) '
                 f'{self.model.prior:.3f}; {self.dropped} of {self.clusters} clusters below '
                 f'{self.min_confidence:g} dropped',
                 f'{"reader":<12s} {"images":>7s} {"boxes":>7s} {"sensitivity":>11s} '
                 f'{"made-up/img":>11s} {"coincidence":>11s} {"P(real) of its boxes":>20s}']
        for r, e in self.reader_estimates.items():
            lines.append(f'{r:<12s} {e["images"]:>7d} {e["boxes"]:>7d} {e["sensitivity"]:>11.3f} '
                         f'{e["false_positives_per_image"]:>11.3f} {e["coincidence"]:>11.3f} '
                         f'{e["precision"]:>20.3f}')
        return '\n'.join(lines)


__all__ = ['CalibratedWBF', 'cluster_votes', 'coincidence_rates']
