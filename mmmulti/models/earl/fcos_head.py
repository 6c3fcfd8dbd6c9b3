"""EARL for FCOSHead: the gt of each positive point is read back from its
regression target (point -/+ (l, t, r, b) = its gt box); the weights go into
FCOS's own ``loss_by_feat``: cls (all points), box and centerness (positives).

The override computes what mmdet 3.3's method of the same name computes, with
the weights passed as ``weight=`` to the same loss modules; with every weight 1
the losses equal the plain head's bit for bit (``tests/test_earl.py``).
"""
from typing import List, Optional

import torch
from mmdet.models.dense_heads import FCOSHead
from mmdet.structures.bbox import get_box_tensor
from mmdet.utils import reduce_mean
from torch import Tensor

from .mixin import EARLHeadMixin, foreground
from .table import keeps_methods, register_earl_adapter

INF = float('inf')


@register_earl_adapter(
    lambda c: keeps_methods(c, FCOSHead, ('loss_by_feat', 'get_targets',
                                          '_get_targets_single')),
    rank=30, supports='FCOSHead')
class FCOSHeadEARL(EARLHeadMixin):
    """FCOSHead: its target step returns no gt index, so the gt of each positive
    point is read back from its regression target (the point minus (l, t) and
    plus (r, b) is its gt box; on equal boxes the first gt wins, as in FCOS's
    own min-area choice). :meth:`loss_by_feat` is FCOS's loss with the
    per-point EARL weights on cls (all points), box and centerness (positives).
    """

    #: per point of the batch (FCOS's flattening), set by get_targets
    _earl_point_weights: Optional[Tensor] = None

    def _get_targets_single(self, gt_instances, points: Tensor, *args, **kwargs) -> tuple:
        labels, bbox_targets = super()._get_targets_single(gt_instances, points, *args,
                                                            **kwargs)
        if not self.earl_recording:
            return labels, bbox_targets
        prior_gt = torch.full_like(labels, -1)
        fg = foreground(labels, self.num_classes)
        if fg.any():
            gt_boxes = get_box_tensor(gt_instances.bboxes).to(bbox_targets.dtype)
            p = points[fg]
            t = bbox_targets[fg]
            boxes = torch.stack((p[:, 0] - t[:, 0], p[:, 1] - t[:, 1],
                                 p[:, 0] + t[:, 2], p[:, 1] + t[:, 3]), -1)
            dist = (boxes[:, None, :] - gt_boxes[None]).abs().amax(-1)
            dist[labels[fg][:, None] != gt_instances.labels[None].to(labels.device)] = INF
            best, idx = dist.min(1)  # min: the first of equal distances
            scale = gt_boxes.abs().max().clamp(min=1.0)
            if bool((best > 1e-4 * scale).any()):
                raise RuntimeError(f'EARL<{self.earl_plain_type.__name__}>: a positive '
                                   "point's regression target matches no gt box")
            prior_gt[fg] = idx
        self.earl_record(gt_instances, prior_gt)
        return labels, bbox_targets

    def get_targets(self, points: List[Tensor], batch_gt_instances, *args, **kwargs):
        num_points = [p.size(0) for p in points]
        self.earl_start()
        try:
            res = super().get_targets(points, batch_gt_instances, *args, **kwargs)
            records = self.earl_finalize(len(batch_gt_instances))
        finally:
            self._earl_records = None
        # FCOSHead.loss_by_feat flattens level by level, images within a level
        w_split = [r['weights'].split(num_points) for r in records]
        self._earl_point_weights = torch.cat(
            [ws[lv] for lv in range(len(num_points)) for ws in w_split])
        return res

    def loss_by_feat(self, cls_scores: List[Tensor], bbox_preds: List[Tensor],
                     centernesses: List[Tensor], batch_gt_instances,
                     batch_img_metas: List[dict], batch_gt_instances_ignore=None) -> dict:
        featmap_sizes = [f.size()[-2:] for f in cls_scores]
        points = self.prior_generator.grid_priors(
            featmap_sizes, dtype=bbox_preds[0].dtype, device=bbox_preds[0].device)
        self._earl_point_weights = None
        labels, bbox_targets = self.get_targets(points, batch_gt_instances)
        w, self._earl_point_weights = self._earl_point_weights, None
        num_imgs = cls_scores[0].size(0)
        scores = torch.cat([s.permute(0, 2, 3, 1).reshape(-1, self.cls_out_channels)
                            for s in cls_scores])
        deltas = torch.cat([b.permute(0, 2, 3, 1).reshape(-1, 4) for b in bbox_preds])
        ctr = torch.cat([c.permute(0, 2, 3, 1).reshape(-1) for c in centernesses])
        labels = torch.cat(labels)
        bbox_targets = torch.cat(bbox_targets)
        flat_points = torch.cat([p.repeat(num_imgs, 1) for p in points])
        terms = self.earl_options.terms
        pos = foreground(labels, self.num_classes).nonzero().reshape(-1)
        num_pos = max(reduce_mean(torch.tensor(len(pos), dtype=torch.float,
                                               device=deltas.device)), 1.0)
        w = w.to(scores.dtype)
        losses = dict(loss_cls=self.loss_cls(scores, labels, weight=w if 'cls' in terms else None,
                                             avg_factor=num_pos))
        w_pos = w[pos]
        ctr_targets = self.centerness_target(bbox_targets[pos])
        denorm = max(reduce_mean(ctr_targets.sum().detach()), 1e-6)
        if len(pos):
            p = flat_points[pos]
            box_weight = ctr_targets * w_pos if 'box' in terms else ctr_targets
            losses['loss_bbox'] = self.loss_bbox(
                self.bbox_coder.decode(p, deltas[pos]),
                self.bbox_coder.decode(p, bbox_targets[pos]),
                weight=box_weight, avg_factor=denorm)
            losses['loss_centerness'] = self.loss_centerness(
                ctr[pos], ctr_targets, weight=w_pos if 'obj' in terms else None,
                avg_factor=num_pos)
        else:
            losses['loss_bbox'] = deltas[pos].sum()
            losses['loss_centerness'] = ctr[pos].sum()
        return losses
