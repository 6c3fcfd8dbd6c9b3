"""Per-family EARL adapters: where each mmdet head family assigns and weighs.

Each adapter is a mixin placed before the head class in ``EARL<Head>``. It
(a) finds the gt of every positive prior where the head already assigns, by
overriding ``_get_targets_single`` and calling ``super()`` (no assignment is
computed twice), (b) turns the batch's gt weights into per-prior weights
(``EARLHeadMixin.earl_finalize``, where ``normalize='mean'`` is exact because
every weight is known before any loss), and (c) applies them:

=================  ===========================  ==============================
family             positive prior -> gt          where the weights go
=================  ===========================  ==============================
AnchorHead         ``sampling_result``           cls: ``label_weights``;
(RetinaHead, ...)  (pos_inds sorted onto the     box: ``bbox_weights``
                   fg labels, so inside/unmap    (after ``get_targets``)
                   indexing cannot misalign)
ATSSHead           as AnchorHead                 cls: ``label_weights``;
                                                 box / obj: its own
                                                 ``loss_by_feat_single`` (box
                                                 weight = centerness x w;
                                                 centerness loss weight w)
FCOSHead           read back from the            its own ``loss_by_feat``: cls
                   regression target of each     (all points), box and
                   positive point (point -/+     centerness (positive points)
                   (l, t, r, b) = its gt box)
YOLOXHead          read back from SimOTA's box   its own ``loss_by_feat``: obj
                   target (a copy of the gt      (all priors), cls, box, L1
                   box; the class on ties)       (positive priors)
YOLOv5Head         the head's own hook           ``get_gt_weights`` +
                                                 ``earl_terms/earl_normalize``
=================  ===========================  ==============================

The ATSS, FCOS and YOLOX loss overrides compute what mmdet 3.3's methods of
the same name compute, with the weights passed as ``weight=`` to the same
loss modules; no module of the head is replaced. With every weight 1 the
losses equal the plain head's bit for bit (``tests/test_earl.py``), so a
change of those methods upstream shows there first.
"""
from typing import List, Optional, Sequence, Tuple

import torch
from mmdet.models.dense_heads import (AnchorHead, ATSSHead, FCOSHead,
                                      YOLOXHead)
from mmdet.models.utils import images_to_levels, multi_apply
from mmdet.structures.bbox import get_box_tensor
from mmdet.utils import reduce_mean
from torch import Tensor

from ..class_targets import gt_class_targets, has_class_shares
from .mixin import EARLHeadMixin

INF = float('inf')

SUPPORTED = ('AnchorHead family (RetinaHead, SSDHead, ... any subclass keeping '
             'AnchorHead.get_targets/_get_targets_single)', 'ATSSHead', 'FCOSHead',
             'YOLOXHead', 'heads with a get_gt_weights hook (YOLOv5Head)')


def _keeps(cls: type, base: type, names: Sequence[str]) -> bool:
    """``cls`` subclasses ``base`` and does not override ``names``."""
    return issubclass(cls, base) and all(
        getattr(cls, n) is getattr(base, n) for n in names)


def _fg(labels: Tensor, num_classes: int) -> Tensor:
    return (labels >= 0) & (labels < num_classes)


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
        return (_keeps(base, AnchorHead, ('loss_by_feat', 'loss_by_feat_single'))
                and bool(getattr(self, 'use_sigmoid_cls', False)))

    def _get_targets_single(self, *args, **kwargs) -> tuple:
        res = super()._get_targets_single(*args, **kwargs)
        if not self.earl_recording:
            return res
        gt = self.earl_bound_args('_get_targets_single', args, kwargs).arguments['gt_instances']
        o = self._earl_target_offset
        labels, sampling_result = res[o], res[o + 6]
        fg = _fg(labels, self.num_classes).nonzero().squeeze(1)
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
        pos = _fg(labels, self.num_classes).nonzero().squeeze(1)
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
        fg = _fg(labels, self.num_classes)
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
        pos = _fg(labels, self.num_classes).nonzero().reshape(-1)
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


class YOLOXHeadEARL(EARLHeadMixin):
    """YOLOXHead: SimOTA's targets keep each positive prior's gt box
    (``bbox_target`` is a copy of it), so the gt index is read back by exact
    box equality (and the class, when two gts share a box). :meth:`loss_by_feat`
    is YOLOX's loss with the per-prior EARL weights on objectness (all priors)
    and cls, box and L1 (positives)."""

    def _get_targets_single(self, priors, cls_preds, decoded_bboxes, objectness,
                            gt_instances, img_meta, gt_instances_ignore=None) -> tuple:
        res = super()._get_targets_single(priors, cls_preds, decoded_bboxes, objectness,
                                          gt_instances, img_meta, gt_instances_ignore)
        if not self.earl_recording:
            return res
        fg_mask, cls_target, _, bbox_target = res[:4]
        prior_gt = torch.full(fg_mask.shape, -1, dtype=torch.long, device=fg_mask.device)
        if bbox_target.numel():
            gt_boxes = get_box_tensor(gt_instances.bboxes).to(bbox_target)
            same = (bbox_target[:, None, :] == gt_boxes[None]).all(-1)
            if len(gt_instances) > 1:  # two gts with one box: the target's class decides
                same_cls = cls_target.argmax(1)[:, None] == gt_instances.labels[None].to(
                    cls_target.device)
                same = torch.where((same & same_cls).any(1, keepdim=True), same & same_cls,
                                   same)
            if not bool(same.any(1).all()):
                raise RuntimeError(f'EARL<{self.earl_plain_type.__name__}>: a positive '
                                   "prior's box target matches no gt box")
            prior_gt[fg_mask] = same.float().argmax(1)  # the first matching gt
        self.earl_record(gt_instances, prior_gt)
        return res

    def loss_by_feat(self, cls_scores, bbox_preds, objectnesses, batch_gt_instances,
                     batch_img_metas, batch_gt_instances_ignore=None) -> dict:
        num_imgs = len(batch_img_metas)
        if batch_gt_instances_ignore is None:
            batch_gt_instances_ignore = [None] * num_imgs
        priors = torch.cat(self.prior_generator.grid_priors(
            [s.shape[2:] for s in cls_scores], dtype=cls_scores[0].dtype,
            device=cls_scores[0].device, with_stride=True))
        cls_preds = torch.cat([c.permute(0, 2, 3, 1).reshape(num_imgs, -1, self.cls_out_channels)
                               for c in cls_scores], 1)
        box_preds = torch.cat([b.permute(0, 2, 3, 1).reshape(num_imgs, -1, 4)
                               for b in bbox_preds], 1)
        obj_preds = torch.cat([o.permute(0, 2, 3, 1).reshape(num_imgs, -1)
                               for o in objectnesses], 1)
        boxes = self._bbox_decode(priors, box_preds)
        self.earl_start()
        try:
            (pos_masks, cls_targets, obj_targets, bbox_targets, l1_targets,
             num_fg) = multi_apply(self._get_targets_single,
                                   priors.unsqueeze(0).repeat(num_imgs, 1, 1),
                                   cls_preds.detach(), boxes.detach(), obj_preds.detach(),
                                   batch_gt_instances, batch_img_metas,
                                   batch_gt_instances_ignore)
            records = self.earl_finalize(num_imgs)
        finally:
            self._earl_records = None
        w = torch.cat([r['weights'] for r in records]).to(cls_preds.dtype)
        terms = self.earl_options.terms
        num_pos = torch.tensor(sum(num_fg), dtype=torch.float, device=cls_preds.device)
        total = max(reduce_mean(num_pos), 1.0)
        pos = torch.cat(pos_masks, 0)
        w_pos = w[pos]
        losses = dict(loss_obj=self.loss_obj(
            obj_preds.view(-1, 1), torch.cat(obj_targets, 0),
            weight=w.view(-1, 1) if 'obj' in terms else None) / total)
        if num_pos > 0:
            losses['loss_cls'] = self.loss_cls(
                cls_preds.view(-1, self.num_classes)[pos], torch.cat(cls_targets, 0),
                weight=w_pos.view(-1, 1) if 'cls' in terms else None) / total
            losses['loss_bbox'] = self.loss_bbox(
                boxes.view(-1, 4)[pos], torch.cat(bbox_targets, 0),
                weight=w_pos if 'box' in terms else None) / total
        else:  # keep both branches in the graph (mmdet issue 7298)
            losses['loss_cls'] = cls_preds.sum() * 0
            losses['loss_bbox'] = boxes.sum() * 0
        if self.use_l1:
            losses['loss_l1'] = (self.loss_l1(
                box_preds.view(-1, 4)[pos], torch.cat(l1_targets, 0),
                weight=w_pos.view(-1, 1) if 'box' in terms else None) / total
                if num_pos > 0 else box_preds.sum() * 0)
        return dict(loss_cls=losses['loss_cls'], loss_bbox=losses['loss_bbox'],
                    loss_obj=losses['loss_obj'],
                    **({'loss_l1': losses['loss_l1']} if self.use_l1 else {}))


class GtWeightHookEARL(EARLHeadMixin):
    """Heads with a native hook (``get_gt_weights`` returning per-image gt
    weights, ``earl_terms``, ``earl_normalize``), e.g. our YOLOv5Head: the head
    applies the weights itself."""

    def get_gt_weights(self, batch_gt_instances) -> List[Tensor]:
        return [self.earl_gt_weights(gt) for gt in batch_gt_instances]

    def _earl_configure(self) -> None:
        self.earl_terms = set(self.earl_options.terms)
        self.earl_normalize = self.earl_options.normalize


# --------------------------------------------------------------------------
# Which adapter a head class gets
# --------------------------------------------------------------------------
#: (matches, adapter) pairs, tried in order
_ADAPTERS: List[Tuple[object, type]] = []


def register_earl_adapter(matches, mixin: type, *, first: bool = True) -> None:
    """Teach EARL a head family.

    Args:
        matches: a head class (its subclasses match) or a predicate
            ``f(head_cls) -> bool``.
        mixin: a subclass of :class:`EARLHeadMixin` overriding the head's
            target/loss methods (call ``super()``); it must not add modules.
        first: try it before the built-in adapters (default).
    """
    if not (isinstance(mixin, type) and issubclass(mixin, EARLHeadMixin)):
        raise TypeError(f'EARL adapter {mixin!r} must subclass EARLHeadMixin')
    if isinstance(matches, type):
        base = matches
        matches = lambda cls, base=base: issubclass(cls, base)  # noqa: E731
    entry = (matches, mixin)
    if first:
        _ADAPTERS.insert(0, entry)
    else:
        _ADAPTERS.append(entry)
    from .builder import clear_earl_classes
    clear_earl_classes()


def find_earl_adapter(head_cls: type) -> type:
    """The adapter mixin for ``head_cls``; TypeError when none fits."""
    for matches, mixin in _ADAPTERS:
        if matches(head_cls):
            return mixin
    raise TypeError(
        f'EARL: no adapter for {head_cls.__name__}. Supported: {SUPPORTED}. A head that '
        'subclasses one of these and keeps its target and loss methods works as is; '
        'otherwise register an adapter with mmmulti.models.register_earl_adapter')


# order matters: the most specific family first
register_earl_adapter(lambda c: callable(getattr(c, 'get_gt_weights', None)),
                      GtWeightHookEARL, first=False)
register_earl_adapter(lambda c: _keeps(c, YOLOXHead, ('loss_by_feat', '_get_targets_single')),
                      YOLOXHeadEARL, first=False)
register_earl_adapter(
    lambda c: _keeps(c, FCOSHead, ('loss_by_feat', 'get_targets', '_get_targets_single')),
    FCOSHeadEARL, first=False)
register_earl_adapter(
    lambda c: _keeps(c, ATSSHead, ('loss_by_feat', 'loss_by_feat_single', 'get_targets',
                                   '_get_targets_single')),
    ATSSHeadEARL, first=False)
register_earl_adapter(
    lambda c: (_keeps(c, AnchorHead, ('get_targets', '_get_targets_single'))
               and not issubclass(c, ATSSHead)),
    AnchorHeadEARL, first=False)
