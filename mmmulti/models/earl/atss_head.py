"""EARL for ATSSHead: cls through ``label_weights`` as the AnchorHead family;
box and centerness in its own ``loss_by_feat_single`` (box weight = centerness
x w; centerness loss weight w).

The override computes what mmdet 3.3's method of the same name computes, with
the weights passed as ``weight=`` to the same loss modules; with every weight 1
the losses equal the plain head's bit for bit (``tests/test_earl.py``).
"""
from typing import List, Optional

from mmdet.models.dense_heads import ATSSHead
from torch import Tensor

from .anchor_head import AnchorHeadEARL
from .mixin import foreground
from .table import keeps_methods, register_earl_adapter


@register_earl_adapter(
    lambda c: keeps_methods(c, ATSSHead, ('loss_by_feat', 'loss_by_feat_single',
                                          'get_targets', '_get_targets_single')),
    rank=40, supports='ATSSHead')
class ATSSHeadEARL(AnchorHeadEARL):
    """ATSSHead: cls through ``label_weights`` (as AnchorHead); ATSS weighs its
    box loss by centerness targets instead of ``bbox_weights``, so
    :meth:`loss_by_feat_single` is ATSS's per-level loss with the level's EARL
    weights multiplied into the box weight and given to the centerness loss.
    The level's weights are found by the identity of its ``labels`` tensor,
    which ``get_targets`` made."""

    _earl_target_offset = 1  # ATSS returns anchors first
    #: id(labels tensor of a level) -> (labels, EARL weights of its anchors)
    _earl_level_weights: Optional[dict] = None

    def earl_trains_class_shares(self) -> bool:
        return False

    def _earl_after_targets(self, res: list, w_levels: List[Tensor]) -> None:
        self._earl_level_weights = {id(labels): (labels, w)
                                    for labels, w in zip(res[1], w_levels)}

    def loss_by_feat(self, *args, **kwargs) -> dict:
        try:
            return super().loss_by_feat(*args, **kwargs)
        finally:
            self._earl_level_weights = None

    def loss_by_feat_single(self, anchors: Tensor, cls_score: Tensor, bbox_pred: Tensor,
                            centerness: Tensor, labels: Tensor, label_weights: Tensor,
                            bbox_targets: Tensor, avg_factor: float) -> tuple:
        entry = (self._earl_level_weights or {}).get(id(labels))
        if entry is None or entry[0] is not labels:
            raise RuntimeError(f'EARL<{self.earl_plain_type.__name__}>: loss_by_feat_single '
                               'got labels that get_targets did not make for this batch')
        w = entry[1].reshape(-1)
        terms = self.earl_options.terms
        anchors = anchors.reshape(-1, 4)
        cls_score = cls_score.permute(0, 2, 3, 1).reshape(-1, self.cls_out_channels).contiguous()
        bbox_pred = bbox_pred.permute(0, 2, 3, 1).reshape(-1, 4)
        centerness = centerness.permute(0, 2, 3, 1).reshape(-1)
        bbox_targets = bbox_targets.reshape(-1, 4)
        labels = labels.reshape(-1)
        # label_weights already carry the EARL weight (AnchorHeadEARL.get_targets)
        loss_cls = self.loss_cls(cls_score, labels, label_weights.reshape(-1),
                                 avg_factor=avg_factor)
        pos = foreground(labels, self.num_classes).nonzero().squeeze(1)
        if not len(pos):
            return (loss_cls, bbox_pred.sum() * 0, centerness.sum() * 0,
                    bbox_targets.new_tensor(0.))
        w_pos = w[pos].to(bbox_pred.dtype)
        centerness_targets = self.centerness_target(anchors[pos], bbox_targets[pos])
        box_weight = centerness_targets * w_pos if 'box' in terms else centerness_targets
        loss_bbox = self.loss_bbox(self.bbox_coder.decode(anchors[pos], bbox_pred[pos]),
                                   bbox_targets[pos], weight=box_weight, avg_factor=1.0)
        loss_centerness = self.loss_centerness(
            centerness[pos], centerness_targets,
            weight=w_pos if 'obj' in terms else None, avg_factor=avg_factor)
        return loss_cls, loss_bbox, loss_centerness, centerness_targets.sum()
