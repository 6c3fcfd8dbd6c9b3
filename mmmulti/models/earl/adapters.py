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
                                                 box: ``weight=`` of loss_bbox
                                                 (ATSS passes centerness
                                                 there, not bbox_weights);
                                                 obj: loss_centerness
FCOSHead           gt index carried through      cls: ``weight=`` of loss_cls
                   ``_get_targets_single`` as    (all points); box/obj:
                   coded labels ``-1 - i``,      loss_bbox / loss_centerness
                   decoded back to real labels   (positive points)
YOLOXHead          SimOTA ``sampling_result``    obj: loss_obj (all priors);
                   captured from its sampler     cls/box: loss_cls, loss_bbox,
                                                 loss_l1 (positive priors)
YOLOv5Head         the head's own hook           ``get_gt_weights`` +
                                                 ``earl_terms/earl_normalize``
=================  ===========================  ==============================

``weight=`` goes through :class:`~mmmulti.models.earl.EARLWeightedLoss`,
queued call by call in the order the head's ``loss_by_feat`` makes them, with
row counts asserted: a head whose loss path differs fails loudly.
"""
from typing import List, Optional, Sequence, Tuple

import torch
from mmdet.models.dense_heads import (AnchorHead, ATSSHead, FCOSHead,
                                      YOLOXHead)
from mmdet.models.utils import images_to_levels
from torch import Tensor

from ..class_targets import gt_class_targets, has_class_shares
from .mixin import EARLHeadMixin

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
            losses = self.earl_loss_with_proxies(super().loss_by_feat, *args, **kwargs)
        finally:
            self._earl_soft_active = False
        if not self._earl_targets_seen:
            raise RuntimeError(f'EARL<{self.earl_plain_type.__name__}>: loss_by_feat did '
                               'not call get_targets, so no EARL weight was applied; this '
                               'head needs its own adapter (register_earl_adapter)')
        return losses


class ATSSHeadEARL(AnchorHeadEARL):
    """ATSSHead: cls through ``label_weights``; ATSS's box loss ignores
    ``bbox_weights`` (it is weighted by centerness targets), so box and
    centerness get ``weight=`` per positive anchor, level by level."""

    _earl_target_offset = 1  # ATSS returns anchors first
    _earl_loss_attrs = {'box': ('loss_bbox', ), 'obj': ('loss_centerness', )}

    def _earl_after_targets(self, res: list, w_levels: List[Tensor]) -> None:
        # ATSSHead.loss_by_feat_single calls loss_bbox and loss_centerness once
        # per level that has positives, positives = foreground labels in order
        for labels, w in zip(res[1], w_levels):
            labels = labels.reshape(-1)
            w_pos = w.reshape(-1)[_fg(labels, self.num_classes)]
            if w_pos.numel():
                self.earl_push('loss_bbox', w_pos)
                self.earl_push('loss_centerness', w_pos)


class FCOSHeadEARL(EARLHeadMixin):
    """FCOSHead: its assignment keeps no gt index, so the gt index rides
    through ``_get_targets_single`` as coded labels ``-1 - i`` (background
    stays ``num_classes``) and is decoded back into the real labels."""

    _earl_loss_attrs = {'cls': ('loss_cls', ), 'box': ('loss_bbox', ),
                        'obj': ('loss_centerness', )}

    def _get_targets_single(self, *args, **kwargs) -> tuple:
        if not self.earl_recording:
            return super()._get_targets_single(*args, **kwargs)
        bound = self.earl_bound_args('_get_targets_single', args, kwargs)
        gt = bound.arguments['gt_instances']
        if len(gt) == 0:
            res = super()._get_targets_single(*args, **kwargs)
            self.earl_record(gt, torch.full_like(res[0], -1))
            return res
        coded = gt.new()
        coded.labels = -1 - torch.arange(len(gt), device=gt.labels.device,
                                         dtype=gt.labels.dtype)
        bound.arguments['gt_instances'] = coded
        res = super()._get_targets_single(*bound.args[1:], **bound.kwargs)
        coded_labels = res[0]
        fg = coded_labels < 0
        prior_gt = torch.where(fg, -1 - coded_labels, -1)
        labels = torch.where(fg, gt.labels[prior_gt.clamp(min=0)],
                             coded_labels.new_full((), self.num_classes))
        self.earl_record(gt, prior_gt)
        return (labels, ) + tuple(res[1:])

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
        pos_split = [r['pos'].split(num_points) for r in records]
        levels = range(len(num_points))
        w = torch.cat([ws[lv] for lv in levels for ws in w_split])
        pos = torch.cat([ps[lv] for lv in levels for ps in pos_split])
        if not torch.equal(_fg(torch.cat(res[0]), self.num_classes), pos):
            raise RuntimeError(f'EARL<{self.earl_plain_type.__name__}>: positive points '
                               'do not match the foreground labels')
        self.earl_push('loss_cls', w)
        w_pos = w[pos]
        if w_pos.numel():  # FCOS skips box/centerness losses without positives
            self.earl_push('loss_bbox', w_pos)
            self.earl_push('loss_centerness', w_pos)
        return res

    def loss_by_feat(self, *args, **kwargs) -> dict:
        return self.earl_loss_with_proxies(super().loss_by_feat, *args, **kwargs)


class _RecordingSampler:
    """Forwards to a sampler and keeps its last sampling result."""

    def __init__(self, sampler) -> None:
        self.sampler = sampler
        self.result = None

    def sample(self, *args, **kwargs):
        self.result = self.sampler.sample(*args, **kwargs)
        return self.result

    def __getattr__(self, name):
        return getattr(self.sampler, name)


class YOLOXHeadEARL(EARLHeadMixin):
    """YOLOXHead: SimOTA's sampling result is captured from ``self.sampler``
    inside ``_get_targets_single``; weights are queued once every image's
    targets exist (at the first loss call)."""

    _earl_loss_attrs = {'cls': ('loss_cls', ), 'box': ('loss_bbox', 'loss_l1'),
                        'obj': ('loss_obj', )}

    def _get_targets_single(self, *args, **kwargs) -> tuple:
        if not self.earl_recording:
            return super()._get_targets_single(*args, **kwargs)
        gt = self.earl_bound_args('_get_targets_single', args, kwargs).arguments['gt_instances']
        sampler = self.sampler
        recorder = _RecordingSampler(sampler)
        self.sampler = recorder
        try:
            res = super()._get_targets_single(*args, **kwargs)
        finally:
            self.sampler = sampler
        fg_mask = res[0]
        prior_gt = torch.full(fg_mask.shape, -1, dtype=torch.long, device=fg_mask.device)
        if recorder.result is not None:
            prior_gt[recorder.result.pos_inds] = recorder.result.pos_assigned_gt_inds
        if not torch.equal(prior_gt >= 0, fg_mask):
            raise RuntimeError(f'EARL<{self.earl_plain_type.__name__}>: sampled positives '
                               'do not match the foreground mask')
        self.earl_record(gt, prior_gt)
        return res

    def _earl_queue(self, num_imgs: int) -> None:
        records = self.earl_finalize(num_imgs)
        # YOLOXHead.loss_by_feat: loss_obj over all priors (image-major), then
        # loss_cls, loss_bbox (and loss_l1) over positives, if there are any
        w = torch.cat([r['weights'] for r in records])
        pos = torch.cat([r['pos'] for r in records])
        self.earl_push('loss_obj', w)
        w_pos = w[pos]
        if w_pos.numel():
            self.earl_push('loss_cls', w_pos)
            self.earl_push('loss_bbox', w_pos)
            if self.use_l1:
                self.earl_push('loss_l1', w_pos)

    def loss_by_feat(self, cls_scores, bbox_preds, objectnesses, batch_gt_instances,
                     batch_img_metas, batch_gt_instances_ignore=None) -> dict:
        self.earl_start()
        return self.earl_loss_with_proxies(
            super().loss_by_feat, cls_scores, bbox_preds, objectnesses,
            batch_gt_instances, batch_img_metas, batch_gt_instances_ignore,
            earl_prepare=lambda: self._earl_queue(len(batch_img_metas)))


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
