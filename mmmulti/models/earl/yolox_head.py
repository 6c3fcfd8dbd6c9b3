"""EARL for YOLOXHead: the gt of each positive prior is read back from SimOTA's
box target (a copy of the gt box; the class on ties); the weights go into
YOLOX's own ``loss_by_feat``: obj (all priors), cls, box, L1 (positives).

The override computes what mmdet 3.3's method of the same name computes, with
the weights passed as ``weight=`` to the same loss modules; with every weight 1
the losses equal the plain head's bit for bit (``tests/test_earl.py``).
"""
import torch
from mmdet.models.dense_heads import YOLOXHead
from mmdet.models.utils import multi_apply
from mmdet.structures.bbox import get_box_tensor
from mmdet.utils import reduce_mean

from .mixin import EARLHeadMixin
from .table import keeps_methods, register_earl_adapter


@register_earl_adapter(
    lambda c: keeps_methods(c, YOLOXHead, ('loss_by_feat', '_get_targets_single')),
    rank=20, supports='YOLOXHead')
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
