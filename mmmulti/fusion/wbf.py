"""Weighted Boxes Fusion of the readers' boxes, with the readers' agreement.

The paper's confidence of a fused box is c = min(n, R) / R, with n the number
of distinct readers with a box in its WBF cluster and R the readers of the
image (a reader who drew the finding twice counts once; both boxes still
enter the fused coordinates). The clustering is
:func:`mmmulti.fusion.weighted_boxes.weighted_boxes_fusion`, one reader one
source, which keeps each cluster's members.
"""
from __future__ import annotations

from typing import Callable, List, Optional, Sequence

import numpy as np

from .base import BaseFusion, FusedBoxes, ImageReads, agreement_confidence, progress
from .params import check_iou_thr, check_reader_weights, check_unit_interval
from .registry import FUSION_METHODS
from .weighted_boxes import CONF_TYPES, WeightedBoxes, weighted_boxes_fusion


@FUSION_METHODS.register_module()
class WBF(BaseFusion):
    """Weighted Boxes Fusion of the readers' boxes (truth inference).

    Each reader of an image is one source of WBF (a reader who drew nothing
    there has no box but still counts in R). Boxes are normalised to [0, 1]
    by the image size and scaled back.

    Args:
        iou_thr (float): IoU above which a box joins a cluster (paper: 0.4).
        skip_box_thr (float): boxes scoring below are ignored (reader boxes
            score 1; useful when fusing model predictions).
        conf_type (str): WBF's score rule, used when ``score_mode='wbf'``.
        reader_weights (dict, optional): reader id -> weight (default 1).
        score_mode (str): 'agreement' (default): confidence
            c = min(n, R) / R, n = distinct readers in the cluster; 'wbf': the
            WBF score by ``conf_type`` and the weights. In both modes
            ``agreement`` = n.
    """

    #: boxes on one image above which the progress bar counts boxes
    progress_min_boxes = 20_000

    def __init__(self, iou_thr: float = 0.4, skip_box_thr: float = 0.0,
                 conf_type: str = 'avg', reader_weights: Optional[dict] = None,
                 score_mode: str = 'agreement', progress: bool = True) -> None:
        super().__init__(progress=progress)
        if conf_type not in CONF_TYPES:
            raise ValueError(f'conf_type must be one of {CONF_TYPES}, got {conf_type!r}')
        if score_mode not in ('agreement', 'wbf'):
            raise ValueError(f"score_mode must be 'agreement' or 'wbf', got {score_mode!r}")
        # WBF's own range: a box joins a cluster at IoU > iou_thr, so 1 merges nothing
        self.iou_thr = check_iou_thr(iou_thr, allow_zero=True, allow_one=False)
        self.skip_box_thr = check_unit_interval(skip_box_thr, 'skip_box_thr')
        self.conf_type = conf_type
        self.reader_weights = check_reader_weights(reader_weights)
        self.score_mode = score_mode

    def _weights(self, image_readers: Sequence[str]) -> list:
        rw = self.reader_weights
        if not rw:
            return [1.0] * len(image_readers)
        return [float(rw.get(r, 1.0)) for r in image_readers]

    @staticmethod
    def _reader_index(reads: ImageReads) -> np.ndarray:
        """Source index of each box: its reader's place in ``image_readers``."""
        pos = {r: t for t, r in enumerate(reads.image_readers)}
        try:
            return np.fromiter((pos[r] for r in reads.readers), dtype=np.int64,
                               count=len(reads.readers))
        except KeyError as e:
            raise ValueError(f'box of reader {e.args[0]!r} on an image read by '
                             f'{reads.image_readers}') from None

    def _check(self, reads: ImageReads) -> bool:
        """False when there is nothing to fuse."""
        if reads.num_readers == 0:
            if len(reads):
                raise ValueError('image with boxes but no readers')
            return False
        return len(reads) > 0

    def fuse_members(self, reads: ImageReads,
                     on_progress: Optional[Callable[[int], None]] = None) -> WeightedBoxes:
        """The WBF of one image, with the member boxes of every cluster
        (normalised boxes; ``sources`` = distinct readers per cluster).
        ``on_progress(n)``: n more boxes clustered (see :meth:`fuse_dataset_members`)."""
        if not self._check(reads):
            return WeightedBoxes.empty()
        wh = np.array([reads.width, reads.height, reads.width, reads.height])
        return weighted_boxes_fusion(
            reads.boxes / wh, reads.box_scores(), reads.labels, self._reader_index(reads),
            self._weights(reads.image_readers), reads.num_readers, iou_thr=self.iou_thr,
            skip_box_thr=self.skip_box_thr, conf_type=self.conf_type,
            on_progress=on_progress)

    def _finish(self, reads: ImageReads, fused: WeightedBoxes) -> FusedBoxes:
        if not len(fused):
            return FusedBoxes.empty()
        boxes = fused.boxes * np.array([reads.width, reads.height,
                                        reads.width, reads.height])
        conf, agree = agreement_confidence(fused.sources, reads.num_readers)
        if self.score_mode == 'wbf':
            conf = np.clip(fused.scores, np.finfo(np.float32).tiny, 1.0).astype(np.float32)
        else:
            conf = self._confidence(reads, fused, conf)
        return FusedBoxes(boxes, fused.labels.astype(np.int64), conf, agree)

    def _confidence(self, reads: ImageReads, fused: WeightedBoxes,
                    conf: np.ndarray) -> np.ndarray:
        """Hook for weighted confidences (reader reliability); default: c."""
        return conf

    def fuse(self, reads: ImageReads) -> FusedBoxes:
        return self._finish(reads, self.fuse_members(reads))

    def fuse_dataset_members(self, reads: Sequence[ImageReads]) -> List[WeightedBoxes]:
        """:meth:`fuse_members` of every image.

        The progress bar counts images, or boxes when one image holds more than
        :attr:`progress_min_boxes` (one such image can take seconds to minutes,
        and the bar then moves within it).
        """
        reads = list(reads)
        largest = max((len(r) for r in reads), default=0)
        if not (self.progress and largest > self.progress_min_boxes):
            show = self.progress and len(reads) > self.progress_min
            return [self.fuse_members(r)
                    for r in progress(reads, len(reads), type(self).__name__, show)]
        from tqdm import tqdm
        out = []
        with tqdm(total=sum(len(r) for r in reads), desc=type(self).__name__, unit='box',
                  mininterval=0.5) as bar:
            for r in reads:
                done = [0]

                def step(n: int) -> None:
                    done[0] += n
                    bar.update(n)
                out.append(self.fuse_members(r, on_progress=step))
                bar.update(len(r) - done[0])   # boxes left out before clustering
        return out

    def fuse_dataset(self, reads: Sequence[ImageReads]) -> List[FusedBoxes]:
        reads = list(reads)
        return [self._finish(r, m) for r, m in zip(reads, self.fuse_dataset_members(reads))]


@FUSION_METHODS.register_module()
class AllBoxesAgreement(WBF):
    """Every reader's box stays a target, weighted by its WBF cluster's agreement.

    The all-boxes baseline keeps each reader's box with weight 1; here each box
    keeps its own coordinates and class but carries the confidence
    c = min(n, R) / R and agreement n of the WBF cluster it falls in (n
    distinct readers). With EARL, a finding all readers drew contributes R
    boxes of weight 1, one only a single reader drew one box of weight 1 / R.
    Boxes WBF ignores (score below ``skip_box_thr``) are dropped. Options as
    :class:`WBF`; ``score_mode='wbf'`` gives each box its cluster's WBF score.
    """

    def _finish(self, reads: ImageReads, fused: WeightedBoxes) -> FusedBoxes:
        if not len(fused):
            return FusedBoxes.empty()
        cluster = super()._finish(reads, fused)
        n = len(reads)
        conf = np.zeros(n, dtype=np.float32)
        agree = np.zeros(n, dtype=np.int64)
        kept = np.zeros(n, dtype=bool)
        for k, members in enumerate(fused.members):
            conf[members] = cluster.confidences[k]
            agree[members] = cluster.agreement[k]
            kept[members] = True
        return FusedBoxes(reads.boxes[kept], reads.labels[kept], conf[kept], agree[kept])
