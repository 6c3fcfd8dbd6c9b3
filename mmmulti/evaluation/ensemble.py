"""Readers ensemble: fuse the predictions of several models with WBF at test time.

The paper's *readers ensemble* baseline trains one model per reader and fuses
their test predictions, image by image, with Weighted Boxes Fusion -- the same
:func:`~mmmulti.fusion.weighted_boxes.weighted_boxes_fusion` as truth
inference, one model one source. WBF expects xyxy boxes in [0, 1], so each
image's boxes are divided by that image's width/height (from the gt json) and
multiplied back after fusion.

Scores and labels are separate named arrays: passing class ids where scores
go (a known slip of public reference code with ``ensemble_boxes``' positional
lists) would turn them into confidences; the tests use a case where such a
swap changes the answer.
"""
import sys
from collections import defaultdict
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
from mmengine.logging import print_log
from mmengine.utils import ProgressBar

from mmmulti.fusion.weighted_boxes import CONF_TYPES, weighted_boxes_fusion


def _normalised_boxes(preds: Sequence[Mapping], width: float, height: float
                      ) -> Tuple[np.ndarray, np.ndarray, np.ndarray, int, int]:
    """COCO xywh pixels -> xyxy in [0, 1]; returns boxes, scores, labels,
    the number of boxes clipped to the image and of boxes dropped (no area
    left inside the image)."""
    if not preds:
        return np.zeros((0, 4)), np.zeros(0), np.zeros(0), 0, 0
    xywh = np.array([p['bbox'] for p in preds], dtype=np.float64).reshape(-1, 4)
    xyxy = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
    xyxy /= np.array([width, height, width, height])
    clipped_xyxy = np.clip(xyxy, 0.0, 1.0)
    n_clipped = int(np.any(clipped_xyxy != xyxy, axis=1).sum())
    keep = ((clipped_xyxy[:, 2] > clipped_xyxy[:, 0])
            & (clipped_xyxy[:, 3] > clipped_xyxy[:, 1]))
    scores = np.array([p['score'] for p in preds], dtype=np.float64)
    labels = np.array([p['category_id'] for p in preds], dtype=np.int64)
    return (clipped_xyxy[keep], scores[keep], labels[keep], n_clipped,
            int((~keep).sum()))


def ensemble_predictions(prediction_sets: Sequence[Sequence[Mapping]],
                         image_sizes: Mapping[int, Tuple[float, float]],
                         weights: Optional[Sequence[float]] = None,
                         iou_thr: float = 0.55,
                         skip_box_thr: float = 0.0,
                         conf_type: str = 'avg',
                         progress: bool = False) -> List[dict]:
    """Fuse several models' COCO results image by image with WBF.

    Args:
        prediction_sets: one COCO results list per model (reader).
        image_sizes: ``{image_id: (width, height)}`` of every image to fuse
            (see :func:`mmmulti.evaluation.predictions.image_sizes`).
        weights: one weight per model (default all 1).
        iou_thr: IoU above which boxes of one class join a cluster.
        skip_box_thr: boxes with a lower score are ignored.
        conf_type: WBF's confidence rule, one of ``CONF_TYPES``.
        progress: show a progress bar.

    Returns:
        Fused COCO results (xywh pixels), images in ``image_sizes`` order.
        Boxes partly outside their image are clipped to it, boxes with no
        area inside it dropped; both are counted in a log warning.
    """
    n_models = len(prediction_sets)
    if n_models == 0:
        raise ValueError('ensemble_predictions: no prediction set given')
    if weights is None:
        weights = [1.0] * n_models
    weights = [float(w) for w in weights]
    if len(weights) != n_models:
        raise ValueError(f'{len(weights)} weights for {n_models} prediction sets')
    if conf_type not in CONF_TYPES:
        raise ValueError(f'conf_type must be one of {CONF_TYPES}, got {conf_type!r}')

    by_image: List[Dict[int, list]] = []
    for m, preds in enumerate(prediction_sets):
        groups: Dict[int, list] = defaultdict(list)
        for i, p in enumerate(preds):
            if p['image_id'] not in image_sizes:
                raise ValueError(f'prediction set {m}, record {i}: image_id '
                                 f'{p["image_id"]} has no size (not in the gt images)')
            groups[p['image_id']].append(p)
        by_image.append(groups)

    fused: List[dict] = []
    n_clipped = n_dropped = 0
    bar = ProgressBar(len(image_sizes), file=sys.stderr) if progress else None
    for img_id, (width, height) in image_sizes.items():
        boxes_list, scores_list, labels_list, sources = [], [], [], []
        for m, groups in enumerate(by_image):
            boxes, scores, labels, clipped, dropped = _normalised_boxes(
                groups.get(img_id, []), width, height)
            n_clipped += clipped
            n_dropped += dropped
            boxes_list.append(boxes)
            scores_list.append(scores)
            labels_list.append(labels)
            sources.append(np.full(len(boxes), m, dtype=np.int64))
        if any(len(b) for b in boxes_list):
            out = weighted_boxes_fusion(
                np.concatenate(boxes_list), scores=np.concatenate(scores_list),
                labels=np.concatenate(labels_list), sources=np.concatenate(sources),
                source_weights=weights, num_sources=n_models, iou_thr=iou_thr,
                skip_box_thr=skip_box_thr, conf_type=conf_type)
            scale = np.array([width, height, width, height])
            for box, score, label in zip(out.boxes * scale, out.scores, out.labels):
                x1, y1, x2, y2 = (float(v) for v in box)
                fused.append(dict(image_id=img_id, category_id=int(label),
                                  bbox=[x1, y1, x2 - x1, y2 - y1], score=float(score)))
        if bar is not None:
            bar.update()
    if bar is not None:
        sys.stderr.write('\n')
    if n_clipped or n_dropped:
        print_log(f'ensemble: {n_clipped} predicted boxes clipped to their image, '
                  f'{n_dropped} dropped (no area inside the image)',
                  logger='current', level=30)
    return fused
