"""WBF whose fused boxes keep the readers' class votes (soft labels).

Plain WBF fuses only boxes of one class: two readers who outline the same
finding but name it differently produce two fused boxes of agreement 1 each.
``SoftWBF`` clusters the readers' boxes whatever their class, fuses the
coordinates as WBF does, and keeps the readers' *vote distribution* over classes
as the cluster's class target: a finding two readers call A and one calls B
becomes one box of confidence c = 3 / R whose class target is (A: 2/3, B: 1/3).

Carrier ("class-split rows"): a cluster is written as one row per class voted,
all with the cluster's box and agreement, in descending share, each with
confidence ``c * share``. Rows of one cluster are consecutive. Every mmdet
transform treats identical boxes identically (drops, crops, flips, mosaics
them together), so the rows stay consecutive and identical to the end of the
pipeline, where :class:`~mmmulti.datasets.transforms.PackMultiReaderInputs`
merges them back into one gt box with ``labels`` = the majority class,
``confidences`` = c, and the shares (:mod:`mmmulti.structures`, class
shares). A head that does not read shares trains on the rows as separate
targets of weight ``c * share``; YOLOv5's class BCE is linear in its target,
so the two agree for its class term.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .base import FusedBoxes, ImageReads, agreement_confidence
from .registry import FUSION_METHODS
from .wbf import WBF
from .weighted_boxes import WeightedBoxes, weighted_boxes_fusion


def reader_votes(readers: np.ndarray, labels: np.ndarray) -> List[Tuple[object, int, float]]:
    """(reader, class, vote) of one cluster's boxes: each distinct reader holds
    one vote, split evenly over the classes of its boxes in the cluster (one
    reader who drew the finding twice, once as A and once as B, gives 1/2 to
    each)."""
    by_reader: Dict[object, set] = defaultdict(set)
    for r, lab in zip(readers, labels):
        by_reader[r].add(int(lab))
    return [(r, lab, 1.0 / len(classes))
            for r, classes in by_reader.items() for lab in sorted(classes)]


def reader_class_shares(readers: np.ndarray, labels: np.ndarray) -> dict:
    """Class -> share of the readers' votes among one cluster's boxes
    (:func:`reader_votes`), so shares sum to 1."""
    votes = reader_votes(readers, labels)
    total = float(len({r for r, _, _ in votes}))
    shares: dict = defaultdict(float)
    for _, lab, v in votes:
        shares[lab] += v / total
    return dict(shares)


@FUSION_METHODS.register_module()
class SoftWBF(WBF):
    """Class-agnostic WBF with the readers' class votes as a soft class target.

    Options as :class:`WBF` (``score_mode='agreement'`` only: the confidence of a
    cluster is c = min(n, R) / R, n its distinct readers). Output rows follow the
    class-split layout of the module docstring.
    """

    #: datasets flag the images so that PackMultiReaderInputs merges the rows
    splits_classes = True

    def __init__(self, iou_thr: float = 0.4, skip_box_thr: float = 0.0,
                 conf_type: str = 'avg', reader_weights=None,
                 progress: bool = True) -> None:
        super().__init__(iou_thr=iou_thr, skip_box_thr=skip_box_thr, conf_type=conf_type,
                         reader_weights=reader_weights, score_mode='agreement',
                         progress=progress)

    def fuse_members(self, reads: ImageReads, on_progress=None) -> WeightedBoxes:
        """WBF over all boxes as one class; labels are read from the members."""
        if not self._check(reads):
            return WeightedBoxes.empty()
        wh = np.array([reads.width, reads.height, reads.width, reads.height])
        return weighted_boxes_fusion(
            reads.boxes / wh, reads.box_scores(), np.zeros(len(reads), np.int64),
            self._reader_index(reads), self._weights(reads.image_readers),
            reads.num_readers, iou_thr=self.iou_thr, skip_box_thr=self.skip_box_thr,
            conf_type=self.conf_type, on_progress=on_progress)

    def _finish(self, reads: ImageReads, fused: WeightedBoxes) -> FusedBoxes:
        shares = [reader_class_shares(reads.readers[m], reads.labels[m])
                  for m in fused.members]
        return self.class_split(reads, fused, shares)

    @staticmethod
    def class_split(reads: ImageReads, fused: WeightedBoxes,
                    shares: Sequence[Dict[int, float]],
                    confidence: Optional[np.ndarray] = None) -> FusedBoxes:
        """The class-split rows of an image's clusters, given each cluster's
        class -> share (shares of a cluster sum to 1) and, optionally, its
        confidence (default: the agreement c)."""
        if not len(fused):
            return FusedBoxes.empty()
        boxes = fused.boxes * np.array([reads.width, reads.height,
                                        reads.width, reads.height])
        conf, agree = agreement_confidence(fused.sources, reads.num_readers)
        if confidence is not None:
            conf = np.asarray(confidence, dtype=np.float64)
        out_boxes: List[np.ndarray] = []
        out_labels, out_conf, out_agree = [], [], []
        for k, cluster_shares in enumerate(shares):
            for lab, share in sorted(cluster_shares.items(), key=lambda kv: (-kv[1], kv[0])):
                out_boxes.append(boxes[k])
                out_labels.append(lab)
                out_conf.append(conf[k] * share)
                out_agree.append(agree[k])
        return FusedBoxes(np.asarray(out_boxes), np.asarray(out_labels),
                          np.asarray(out_conf, dtype=np.float32), np.asarray(out_agree))
