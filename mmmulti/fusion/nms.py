"""Suppression-style fusion through ensemble_boxes: NMS, Soft-NMS, NMW.

These methods keep (NMS, Soft-NMS) or average (NMW) boxes but do not report
which input boxes a kept box stands for. Their agreement is therefore defined
after the fact: the *cluster* of an output box is every input box of the same
class overlapping it at IoU > ``iou_thr``; agreement = the distinct readers
in that cluster (at least 1, at most R) and confidence = agreement / R, as for
WBF. ``score_mode='method'`` keeps the library's own score instead.
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np

from .registry import FUSION_METHODS
from .base import BaseFusion, FusedBoxes, ImageReads, agreement_confidence
from .geometry import agreeing_readers
from .params import check_iou_thr, check_reader_weights, check_unit_interval


class _EnsembleBoxesFusion(BaseFusion):
    """Calls an ensemble_boxes method with one list per reader."""

    def __init__(self, iou_thr: float = 0.4, reader_weights: Optional[dict] = None,
                 score_mode: str = 'agreement', progress: bool = True) -> None:
        super().__init__(progress=progress)
        if score_mode not in ('agreement', 'method'):
            raise ValueError(f"score_mode must be 'agreement' or 'method', got {score_mode!r}")
        self.iou_thr = check_iou_thr(iou_thr)
        self.reader_weights = check_reader_weights(reader_weights)
        self.score_mode = score_mode

    def _call(self, boxes_list, scores_list, labels_list, weights):
        raise NotImplementedError

    def fuse(self, reads: ImageReads) -> FusedBoxes:
        R = reads.num_readers
        if R == 0 or len(reads) == 0:
            if len(reads):
                raise ValueError('image with boxes but no readers')
            return FusedBoxes.empty()
        wh = np.array([reads.width, reads.height, reads.width, reads.height])
        scores = reads.box_scores()
        boxes_list, scores_list, labels_list = [], [], []
        for reader in reads.image_readers:
            m = reads.readers == reader
            boxes_list.append(reads.boxes[m] / wh)
            scores_list.append(scores[m].copy())
            labels_list.append(reads.labels[m])
        weights = None
        if self.reader_weights:
            weights = [float(self.reader_weights.get(r, 1.0)) for r in reads.image_readers]
        # documented order: boxes, scores, labels
        b, s, lab = self._call(boxes_list, scores_list, labels_list, weights)
        if len(b) == 0:
            return FusedBoxes.empty()
        b = np.asarray(b, dtype=np.float64) * wh
        lab = np.asarray(lab).astype(np.int64)
        counts = agreeing_readers(b, lab, reads, self.iou_thr)
        conf, agree = agreement_confidence(counts, R)
        if self.score_mode == 'method':
            conf = np.clip(np.asarray(s, dtype=np.float64), np.finfo(np.float32).tiny, 1.0)
        return FusedBoxes(b, lab, conf, agree)


@FUSION_METHODS.register_module()
class NMS(_EnsembleBoxesFusion):
    """Non-maximum suppression per class (``ensemble_boxes.nms``)."""

    def _call(self, boxes_list, scores_list, labels_list, weights):
        from ensemble_boxes import nms
        return nms(boxes_list, scores_list, labels_list, iou_thr=self.iou_thr,
                   weights=weights)


@FUSION_METHODS.register_module()
class SoftNMS(_EnsembleBoxesFusion):
    """Soft-NMS (``ensemble_boxes.soft_nms``): overlapping boxes are kept with
    decayed scores above ``thresh``; ``method`` 1 linear, 2 gaussian."""

    def __init__(self, iou_thr: float = 0.4, sigma: float = 0.5, thresh: float = 0.001,
                 method: int = 2, **kwargs) -> None:
        super().__init__(iou_thr=iou_thr, **kwargs)
        self.sigma = float(sigma)
        if not (math.isfinite(self.sigma) and self.sigma > 0):
            raise ValueError(f'sigma must be a finite number > 0, got {sigma!r}')
        self.thresh = check_unit_interval(thresh, 'thresh')
        if method not in (1, 2):
            raise ValueError(f'method must be 1 (linear) or 2 (gaussian), got {method!r}')
        self.method = int(method)

    def _call(self, boxes_list, scores_list, labels_list, weights):
        from ensemble_boxes import soft_nms
        return soft_nms(boxes_list, scores_list, labels_list, method=self.method,
                        iou_thr=self.iou_thr, sigma=self.sigma, thresh=self.thresh,
                        weights=weights)


@FUSION_METHODS.register_module()
class NMW(_EnsembleBoxesFusion):
    """Non-maximum weighted (``ensemble_boxes.non_maximum_weighted``)."""

    def __init__(self, iou_thr: float = 0.4, skip_box_thr: float = 0.0, **kwargs) -> None:
        super().__init__(iou_thr=iou_thr, **kwargs)
        self.skip_box_thr = check_unit_interval(skip_box_thr, 'skip_box_thr')

    def _call(self, boxes_list, scores_list, labels_list, weights):
        from ensemble_boxes import non_maximum_weighted
        return non_maximum_weighted(boxes_list, scores_list, labels_list, weights=weights,
                                    iou_thr=self.iou_thr, skip_box_thr=self.skip_box_thr)
