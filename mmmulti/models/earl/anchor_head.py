"""EARL for the AnchorHead family (RetinaHead, SSDHead, ... any subclass keeping
``AnchorHead.get_targets`` / ``_get_targets_single``).

The gt of each positive anchor comes from AnchorHead's ``sampling_result``
(``pos_inds`` sorted onto the foreground labels, so inside/unmap indexing cannot
misalign); the weights go into ``label_weights`` (cls) and ``bbox_weights``
(box) after ``get_targets``, which AnchorHead's loss already consumes.
"""
from typing import List, Optional

import torch
from mmdet.models.dense_heads import AnchorHead, ATSSHead
from mmdet.models.utils import images_to_levels
from torch import Tensor

from ..class_targets import gt_class_targets, has_class_shares
from .mixin import EARLHeadMixin, foreground
from .table import keeps_methods, register_earl_adapter


@register_earl_adapter(
    lambda c: (keeps_methods(c, AnchorHead, ('get_targets', '_get_targets_single'))
               and not issubclass(c, ATSSHead)),
    rank=50, supports='AnchorHead family (RetinaHead, SSDHead, ... any subclass keeping '
    'AnchorHead.get_targets/_get_targets_single)')
class AnchorHeadEARL(EARLHeadMixin):
    """AnchorHead family: ``label_weights`` (cls) and ``bbox_weights`` (box) of
    positive anchors are multiplied by their gt's weight after ``get_targets``.
    Requires the head's loss to consume those two (AnchorHead's does).

    Soft class targets (gt boxes with the readers' class shares, ``SoftWBF``):
    for heads that keep AnchorHead's sigmoid loss (RetinaHead, our
    EfficientDetHead, ...), ``get_targets`` returns per level (B, A, C) share
    rows instead of labels, and :meth:`loss_by_feat_single` scores the class
    term against them; its box term is AnchorHead's, on the majority class.
    """

    #: index of ``labels`` in the outputs of _get_targets_single / get_targets
    _earl_target_offset = 0
    _earl_targets_seen = False
    #: (gt_instances, prior_gt) of each image of the batch being assigned
    _earl_assigned: Optional[list] = None
    #: True while a loss_by_feat trains on class shares
    _earl_soft_active = False

    def earl_trains_class_shares(self) -> bool:
        base = self.earl_plain_type
        return (keeps_methods(base, AnchorHead, ('loss_by_feat', 'loss_by_feat_single'))
                and bool(getattr(self, 'use_sigmoid_cls', False)))

    def _get_targets_single(self, *args, **kwargs) -> tuple:
        res = super()._get_targets_single(*args, **kwargs)
        if not self.earl_recording:
            return res
        gt = self.earl_bound_args('_get_targets_single', args, kwargs).arguments['gt_instances']
        o = self._earl_target_offset
        labels, sampling_result = res[o], res[o + 6]
        fg = foreground(labels, self.num_classes).nonzero().squeeze(1)
        pos_inds = sampling_result.pos_inds
        if fg.numel() != pos_inds.numel():
            raise RuntimeError(f'EARL<{self.earl_plain_type.__name__}>: {fg.numel()} '
                               f'foreground labels but {pos_inds.numel()} positive priors')
        prior_gt = torch.full_like(labels, -1)
        # unmapping keeps the order of inside anchors: the k-th smallest
        # positive inside index is the k-th foreground anchor overall
        prior_gt[fg] = sampling_result.pos_assigned_gt_inds[pos_inds.argsort()]
        self.earl_record(gt, prior_gt)
        if self._earl_assigned is not None:
            self._earl_assigned.append((gt, prior_gt))
        return res

    def get_targets(self, anchor_list, valid_flag_list, batch_gt_instances, *args,
                    **kwargs) -> tuple:
        num_level_anchors = [a.size(0) for a in anchor_list[0]]
        self.earl_start()
        self._earl_assigned = []
        try:
            res = super().get_targets(anchor_list, valid_flag_list, batch_gt_instances,
                                      *args, **kwargs)
            records = self.earl_finalize(len(batch_gt_instances))
            assigned = self._earl_assigned
        finally:
            self._earl_records = None
            self._earl_assigned = None
        self._earl_targets_seen = True
        weights = [r['weights'] for r in records]
        total = sum(num_level_anchors)
        for i, w in enumerate(weights):
            if w.numel() != total:
                raise RuntimeError(f'EARL<{self.earl_plain_type.__name__}>: image {i} has '
                                   f'{w.numel()} targets for {total} anchors '
                                   '(unmap_outputs=False is not supported)')
        w_levels = images_to_levels(weights, num_level_anchors)
        res = list(res)
        o = self._earl_target_offset
        terms = self.earl_options.terms
        if 'cls' in terms:
            res[o + 1] = [lw * w.view(lw.shape) for lw, w in zip(res[o + 1], w_levels)]
        if 'box' in terms:
            res[o + 3] = [bw * w.view(*bw.shape[:-1], 1) for bw, w in zip(res[o + 3], w_levels)]
        self._earl_after_targets(res, w_levels)
        if any(has_class_shares(gt) for gt, _ in assigned):
            # class shares replace the labels (checked in earl_record)
            rows = [self._earl_share_rows(gt, prior_gt) for gt, prior_gt in assigned]
            res[o] = images_to_levels(rows, num_level_anchors)
            self._earl_soft_active = True
        return tuple(res)

    def _earl_share_rows(self, gt, prior_gt: Tensor) -> Tensor:
        """(A, C) class target of every anchor: its gt's shares, 0 for the rest."""
        targets = gt_class_targets(gt, self.num_classes).to(prior_gt.device)
        rows = targets.new_zeros((prior_gt.numel(), self.num_classes))
        pos = prior_gt >= 0
        rows[pos] = targets[prior_gt[pos]]
        return rows

    def loss_by_feat_single(self, *args, **kwargs) -> tuple:
        if not self._earl_soft_active:
            return super().loss_by_feat_single(*args, **kwargs)
        a = self.earl_bound_args('loss_by_feat_single', args, kwargs).arguments
        shares = a['labels']  # (B, A, C) from get_targets
        c = self.cls_out_channels
        soft = shares.reshape(-1, c)
        hard = torch.where(soft.sum(1) > 0, soft.argmax(1),
                           torch.full_like(soft[:, 0], self.num_classes, dtype=torch.long))
        a['labels'] = hard.view(shares.shape[:-1])
        a.pop('self')
        _, loss_bbox = super().loss_by_feat_single(**a)
        scores = a['cls_score'].permute(0, 2, 3, 1).reshape(-1, c)
        weights = a['label_weights'].reshape(-1, 1).expand(-1, c)
        loss_cls = self.loss_cls(scores, soft, weights, avg_factor=a['avg_factor'])
        return loss_cls, loss_bbox

    def _earl_after_targets(self, res: list, w_levels: List[Tensor]) -> None:
        """Hook for subclasses that weight more than label/bbox weights."""

    def loss_by_feat(self, *args, **kwargs) -> dict:
        self._earl_targets_seen = False
        self._earl_soft_active = False
        try:
            losses = super().loss_by_feat(*args, **kwargs)
        finally:
            self._earl_records = None
            self._earl_soft_active = False
        if not self._earl_targets_seen:
            raise RuntimeError(f'EARL<{self.earl_plain_type.__name__}>: loss_by_feat did '
                               'not call get_targets, so no EARL weight was applied; this '
                               'head needs its own adapter (register_earl_adapter)')
        return losses
