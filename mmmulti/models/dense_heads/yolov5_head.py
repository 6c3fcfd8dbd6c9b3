"""YOLOv5 (v6.x / v7.0) detection head and loss on mmdet's ``BaseDenseHead``.

mmdet's ``YOLOV3Head`` assigns one anchor per gt (max IoU, one cell); YOLOv5
assigns every anchor whose width/height ratio to the gt is below a
threshold (4) and adds the two nearest neighbour cells, decodes boxes as
``xy = 2*sigmoid - 0.5`` and ``wh = (2*sigmoid)^2 * anchor``, and trains
objectness on the CIoU of the matched prediction. Hence a head of our own.

The loss is YOLOv5's as documented, with ``hyp.scratch-low``
(box 0.05, obj 1.0, cls 0.5, shape ratio 4.0, no label smoothing) and the gain
scaling of its ``train.py`` (box x 3/nl, cls x C/80 x 3/nl,
obj x (img/640)^2 x 3/nl). As in YOLOv5 every term is multiplied by the
batch size, so the loss values are YOLOv5's and the reference lr applies.

Target assignment is :class:`~mmmulti.models.task_modules.ShapeNeighbourAssigner`
(``assigner``). When several targets share a cell and anchor, the cell's
objectness target is the largest of their IoUs, so the result does not
depend on the order of the targets.

EARL hook: :meth:`get_gt_weights` returns one weight per gt box (``None`` in
this plain head). When it returns weights, each matched target's box and cls
loss, and the objectness BCE at its cell, is multiplied by its gt's weight
(for the terms listed in ``earl_terms``); unmatched cells keep weight 1.
With all weights 1 the loss equals the plain head's loss bit for bit.

Soft class targets: when the gt boxes carry the readers' class shares
(``SoftWBF`` fusion), a matched target's class BCE target is its box's share
of each class instead of a one-hot row (:mod:`mmmulti.models.class_targets`).
"""
import math
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmdet.models.dense_heads.base_dense_head import BaseDenseHead
from mmdet.structures.bbox import get_box_tensor
from mmdet.utils import InstanceList, OptConfigType, OptInstanceList, OptMultiConfig
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData
from torch import Tensor

from mmmulti.registry import MODELS, TASK_UTILS
from ..backbones.yolov5_csp_darknet import yolov5_channels
from ..class_targets import batch_class_targets
from ..earl.weights import earl_prior_weights
from ..losses import bbox_ciou_xywh
from ..task_modules import ShapeNeighbourAssigner  # noqa: F401  (registers the default)

# YOLOv5's default anchors (pixels at 640 px input) for strides 8, 16, 32.
YOLOV5_ANCHORS = [[(10, 13), (16, 30), (33, 23)],
                  [(30, 61), (62, 45), (59, 119)],
                  [(116, 90), (156, 198), (373, 326)]]


@MODELS.register_module()
class YOLOv5Head(BaseDenseHead):
    """YOLOv5 head: one 1x1 conv per level giving ``(5 + C) * A`` channels.

    Args:
        num_classes: number of object classes C.
        in_channels: per-level input widths *before* ``widen_factor``
            (256, 512, 1024 as in the neck).
        widen_factor: width multiplier of the model size (n 0.25 ... x 1.25).
        anchors: per level, A anchors as (w, h) in input pixels.
        strides: level strides in pixels.
        assigner: target assignment (``TASK_UTILS``), default
            :class:`~mmmulti.models.task_modules.ShapeNeighbourAssigner` with
            YOLOv5's shape ratio 4 and neighbour margin 0.5.
        obj_level_weights: objectness balance per level; default YOLOv5's
            [4.0, 1.0, 0.4] for 3 levels ([4.0, 1.0, 0.25, 0.06, 0.02] else).
        loss_weights: ``hyp`` gains ``box``, ``obj``, ``cls`` before scaling.
        train_size: training image size used by the obj gain (img/640)^2.
        iou_target_ratio: YOLOv5's ``gr``: obj target = (1-gr) + gr * IoU.
        label_smoothing: eps of YOLOv5's ``smooth_BCE``.
        loss_cls, loss_obj: per-element losses of the class and objectness
            logits (default mmdet's sigmoid ``CrossEntropyLoss``, mean).
        loss_bbox: loss of the matched boxes (default
            :class:`~mmmulti.models.losses.YOLOv5CIoULoss`, mean). All three
            get EARL's per-target weights as ``weight``; the gains above
            multiply their results.
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: Sequence[int] = (256, 512, 1024),
                 widen_factor: float = 1.0,
                 anchors: Sequence[Sequence[Tuple[float, float]]] = YOLOV5_ANCHORS,
                 strides: Sequence[int] = (8, 16, 32),
                 assigner: OptConfigType = None,
                 obj_level_weights: Optional[Sequence[float]] = None,
                 loss_weights: Optional[Dict[str, float]] = None,
                 train_size: int = 640,
                 iou_target_ratio: float = 1.0,
                 label_smoothing: float = 0.0,
                 loss_cls: OptConfigType = None,
                 loss_obj: OptConfigType = None,
                 loss_bbox: OptConfigType = None,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if not (len(in_channels) == len(anchors) == len(strides)):
            raise ValueError('YOLOv5Head: in_channels, anchors and strides need one '
                             f'entry per level, got {len(in_channels)}, '
                             f'{len(anchors)}, {len(strides)}')
        if len({len(a) for a in anchors}) != 1:
            raise ValueError('YOLOv5Head: every level needs the same number of anchors')
        self.num_classes = num_classes
        self.num_levels = len(strides)
        self.num_base_priors = len(anchors[0])
        self.num_out = 5 + num_classes
        self.strides = [int(s) for s in strides]
        self.in_channels = [yolov5_channels(c, widen_factor) for c in in_channels]
        self.register_buffer('anchors_px', torch.tensor(anchors, dtype=torch.float32),
                             persistent=False)  # (nl, na, 2)
        self.assigner = TASK_UTILS.build(
            assigner or dict(type='ShapeNeighbourAssigner', ratio_thr=4.0,
                             neighbour_margin=0.5))
        if obj_level_weights is None:
            obj_level_weights = [4.0, 1.0, 0.4] if self.num_levels == 3 \
                else [4.0, 1.0, 0.25, 0.06, 0.02][:self.num_levels]
        if len(obj_level_weights) != self.num_levels:
            raise ValueError(f'YOLOv5Head: obj_level_weights {obj_level_weights} '
                             f'needs {self.num_levels} entries')
        self.obj_level_weights = list(obj_level_weights)
        hyp = dict(box=0.05, obj=1.0, cls=0.5)
        hyp.update(loss_weights or {})
        scale = 3.0 / self.num_levels
        self.box_gain = hyp['box'] * scale
        self.cls_gain = hyp['cls'] * num_classes / 80 * scale
        self.obj_gain = hyp['obj'] * (train_size / 640) ** 2 * scale
        self.iou_target_ratio = iou_target_ratio
        self.cls_pos = 1.0 - 0.5 * label_smoothing
        self.cls_neg = 0.5 * label_smoothing
        bce = dict(type='mmdet.CrossEntropyLoss', use_sigmoid=True, reduction='mean',
                   loss_weight=1.0)
        self.loss_cls = MODELS.build(loss_cls or bce)
        self.loss_obj = MODELS.build(loss_obj or bce)
        self.loss_bbox = MODELS.build(loss_bbox or dict(type='YOLOv5CIoULoss'))
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg
        # EARL contract (see module docstring); subclasses override the hook.
        self.earl_terms = {'cls', 'box', 'obj'}
        self.earl_normalize: Optional[str] = None

        self.convs_pred = nn.ModuleList(
            nn.Conv2d(c, self.num_base_priors * self.num_out, 1) for c in self.in_channels)
        self._init_pred_bias()

    # ------------------------------------------------------------------ init
    def _init_pred_bias(self) -> None:
        """YOLOv5's prior bias: ~8 objects per 640 image, cls prob ~0.6/C."""
        for conv, stride in zip(self.convs_pred, self.strides):
            b = conv.bias.data.view(self.num_base_priors, -1)
            b[:, :4] = 0.0
            b[:, 4] = math.log(8 / (640 / stride) ** 2)
            b[:, 5:] = math.log(0.6 / (self.num_classes - 0.99999))

    def init_weights(self) -> None:
        super().init_weights()
        self._init_pred_bias()

    # --------------------------------------------------------------- forward
    def forward(self, x: Tuple[Tensor, ...]) -> Tuple[List[Tensor]]:
        if len(x) != self.num_levels:
            raise ValueError(f'YOLOv5Head: got {len(x)} feature maps, '
                             f'expected {self.num_levels}')
        return ([conv(f) for conv, f in zip(self.convs_pred, x)], )

    def _to_grid(self, pred: Tensor) -> Tensor:
        """(B, A*(5+C), H, W) -> (B, A, H, W, 5+C), YOLOv5's layout."""
        b, _, h, w = pred.shape
        return pred.view(b, self.num_base_priors, self.num_out, h, w).permute(0, 1, 3, 4, 2)

    # ------------------------------------------------------------ EARL hook
    def get_gt_weights(self, batch_gt_instances: InstanceList) -> Optional[List[Tensor]]:
        """Per-image, per-gt loss weights; ``None`` = plain YOLOv5 (weight 1)."""
        return None

    # ----------------------------------------------------------------- loss
    def _build_targets(self, pred_maps: Sequence[Tensor], targets: Tensor) -> list:
        """Positive targets per level from ``self.assigner``.

        ``targets`` rows are (img, cls, cx, cy, w, h, gt) in input pixels.
        Returns per level a dict: ``indices`` (img, anchor, row, col),
        ``tbox`` (centre offset in the cell and wh, in cells), ``tcls``,
        ``anchors`` (the matched anchors' wh in cells) and ``gt_idx``.
        """
        levels = []
        for i, pred in enumerate(pred_maps):
            h, w = pred.shape[-2:]
            stride = self.strides[i]
            anchors = self.anchors_px[i] / stride
            priors = InstanceData(metainfo=dict(featmap_size=(h, w)), anchors=anchors)
            gts = InstanceData(centres=targets[:, 2:4] / stride,
                               sizes=targets[:, 4:6] / stride)
            pos = self.assigner.assign(priors, gts)
            rows = targets[pos.gt_inds]
            sizes = gts.sizes[pos.gt_inds]
            levels.append(dict(
                indices=(rows[:, 0].long(), pos.anchor_inds, pos.rows, pos.cols),
                tbox=torch.cat((pos.offsets, sizes), 1), tcls=rows[:, 1].long(),
                anchors=anchors[pos.anchor_inds], gt_idx=rows[:, 6].long()))
        return levels

    def _gt_targets(self, batch_gt_instances: InstanceList, device: torch.device) -> Tensor:
        rows = []
        offset = 0
        for img_id, gt in enumerate(batch_gt_instances):
            boxes = get_box_tensor(gt.bboxes).to(device=device, dtype=torch.float32)
            n = boxes.shape[0]
            if n == 0:
                continue
            labels = gt.labels.to(device=device, dtype=torch.float32)
            cxcy = (boxes[:, :2] + boxes[:, 2:]) / 2
            wh = boxes[:, 2:] - boxes[:, :2]
            idx = torch.arange(offset, offset + n, device=device, dtype=torch.float32)
            img = torch.full((n, ), img_id, device=device, dtype=torch.float32)
            rows.append(torch.cat([img[:, None], labels[:, None], cxcy, wh, idx[:, None]], 1))
            offset += n
        if not rows:
            return torch.zeros((0, 7), device=device)
        return torch.cat(rows, 0)

    def _flat_gt_weights(self, batch_gt_instances: InstanceList,
                         device: torch.device) -> Optional[Tensor]:
        weights = self.get_gt_weights(batch_gt_instances)
        if weights is None:
            return None
        if len(weights) != len(batch_gt_instances):
            raise ValueError(f'{type(self).__name__}.get_gt_weights returned '
                             f'{len(weights)} tensors for {len(batch_gt_instances)} images')
        for img_id, (w, gt) in enumerate(zip(weights, batch_gt_instances)):
            if w.numel() != len(gt):
                raise ValueError(f'{type(self).__name__}.get_gt_weights: image {img_id} '
                                 f'has {len(gt)} gt boxes but {w.numel()} weights')
        if not weights:
            return torch.zeros(0, device=device)
        return torch.cat([w.reshape(-1) for w in weights]).to(device=device,
                                                               dtype=torch.float32)

    def loss_by_feat(self,
                     pred_maps: Sequence[Tensor],
                     batch_gt_instances: InstanceList,
                     batch_img_metas: List[dict],
                     batch_gt_instances_ignore: OptInstanceList = None) -> dict:
        """YOLOv5 loss: CIoU box, IoU-target objectness BCE, class BCE."""
        device = pred_maps[0].device
        batch_size = pred_maps[0].shape[0]
        targets = self._gt_targets(batch_gt_instances, device)
        gt_weights = self._flat_gt_weights(batch_gt_instances, device)
        # the readers' class shares (SoftWBF), else None: one-hot targets
        class_targets = batch_class_targets(batch_gt_instances, self.num_classes, device)
        levels = self._build_targets(pred_maps, targets)

        # per-target weights (EARL); None keeps the plain YOLOv5 arithmetic
        tgt_weights: List[Optional[Tensor]] = [None] * self.num_levels
        if gt_weights is not None:
            # every matched target is a positive prior of its gt
            tgt_weights, _ = earl_prior_weights(
                gt_weights, [lv['gt_idx'] for lv in levels], self.earl_normalize)

        def term_weight(w: Optional[Tensor], term: str) -> Optional[Tensor]:
            return w if w is not None and term in self.earl_terms else None

        lbox = torch.zeros(1, device=device)
        lobj = torch.zeros(1, device=device)
        lcls = torch.zeros(1, device=device)
        for i, pred in enumerate(pred_maps):
            pi = self._to_grid(pred)
            lv = levels[i]
            b, a, gj, gi = lv['indices']
            w = tgt_weights[i]
            tobj = torch.zeros(pi.shape[:4], dtype=pi.dtype, device=device)
            obj_w = None
            n = b.shape[0]
            if n:
                ps = pi[b, a, gj, gi]
                pxy = ps[:, :2].sigmoid() * 2 - 0.5
                pwh = (ps[:, 2:4].sigmoid() * 2) ** 2 * lv['anchors']
                pbox = torch.cat((pxy, pwh), 1)
                lbox += self.loss_bbox(pbox, lv['tbox'], weight=term_weight(w, 'box'))
                with torch.no_grad():  # the objectness target: the same CIoU
                    iou = bbox_ciou_xywh(pbox, lv['tbox']).clamp(0).type(tobj.dtype)
                if self.iou_target_ratio < 1:
                    iou = (1.0 - self.iou_target_ratio) + self.iou_target_ratio * iou
                cell = ((b * pi.shape[1] + a) * pi.shape[2] + gj) * pi.shape[3] + gi
                best = tobj.view(-1).scatter_reduce(0, cell, iou, reduce='amax')
                tobj = best.view_as(tobj)
                if w is not None and 'obj' in self.earl_terms:
                    # a cell two targets share takes the weight of the one whose
                    # IoU set its objectness target (the larger weight on a tie)
                    wins = iou >= best[cell]
                    obj_w = torch.ones_like(tobj).view(-1).index_put(
                        (cell[wins], ), torch.zeros_like(w[wins]))
                    obj_w = obj_w.scatter_reduce(0, cell[wins], w[wins].to(obj_w.dtype),
                                                 reduce='amax').view_as(tobj)
                if self.num_classes > 1:  # YOLOv5 trains cls only with >1 class
                    pcls = ps[:, 5:]
                    if class_targets is None:
                        t = torch.full_like(pcls, self.cls_neg)
                        t[torch.arange(n, device=device), lv['tcls']] = self.cls_pos
                    else:  # soft: each class's share between the two smoothing levels
                        share = class_targets[lv['gt_idx']].to(pcls.dtype)
                        t = self.cls_neg + (self.cls_pos - self.cls_neg) * share
                    wc = term_weight(w, 'cls')
                    lcls += self.loss_cls(pcls, t, weight=None if wc is None else wc[:, None])
            lobj += self.loss_obj(pi[..., 4], tobj, weight=obj_w) * self.obj_level_weights[i]

        return dict(loss_box=(lbox * self.box_gain * batch_size).squeeze(0),
                    loss_obj=(lobj * self.obj_gain * batch_size).squeeze(0),
                    loss_cls=(lcls * self.cls_gain * batch_size).squeeze(0))

    # -------------------------------------------------------------- predict
    def _decode(self, pred_maps: Sequence[Tensor]) -> Tensor:
        """All levels -> (B, N, 5 + C): xyxy pixels, obj prob, cls probs."""
        outs = []
        for i, pred in enumerate(pred_maps):
            p = self._to_grid(pred).sigmoid()
            _, _, h, w, _ = p.shape
            yv, xv = torch.meshgrid(torch.arange(h, device=p.device, dtype=p.dtype),
                                    torch.arange(w, device=p.device, dtype=p.dtype),
                                    indexing='ij')
            grid = torch.stack((xv, yv), -1)  # (H, W, 2)
            xy = (p[..., :2] * 2 - 0.5 + grid) * self.strides[i]
            wh = (p[..., 2:4] * 2) ** 2 * self.anchors_px[i].view(1, -1, 1, 1, 2).to(p.dtype)
            boxes = torch.cat((xy - wh / 2, xy + wh / 2), -1)
            outs.append(torch.cat((boxes, p[..., 4:]), -1).flatten(1, 3))
        return torch.cat(outs, 1)

    def predict_by_feat(self,
                        pred_maps: Sequence[Tensor],
                        batch_img_metas: List[dict],
                        cfg: OptConfigType = None,
                        rescale: bool = False,
                        with_nms: bool = True) -> InstanceList:
        """conf = obj x cls, multi-label above ``score_thr``, class-wise NMS."""
        cfg = ConfigDict(cfg if cfg is not None else (self.test_cfg or {}))
        score_thr = cfg.get('score_thr', 0.001)
        multi_label = cfg.get('multi_label', True)
        nms_pre = cfg.get('nms_pre', 30000)
        cfg.setdefault('nms', dict(type='nms', iou_threshold=0.6))
        cfg.setdefault('max_per_img', 300)
        decoded = self._decode(pred_maps)
        results_list = []
        for det, img_meta in zip(decoded, batch_img_metas):
            det = det[det[:, 4] > score_thr]  # YOLOv5's objectness candidates
            scores_all = det[:, 4:5] * det[:, 5:]
            if multi_label:
                idx, labels = (scores_all > score_thr).nonzero(as_tuple=True)
                scores = scores_all[idx, labels]
            else:
                scores, labels = scores_all.max(1)
                idx = (scores > score_thr).nonzero(as_tuple=True)[0]
                scores, labels = scores[idx], labels[idx]
            if scores.numel() > nms_pre:
                scores, top = scores.topk(nms_pre)
                idx, labels = idx[top], labels[top]
            bboxes = det[idx, :4]
            if 'img_shape' in img_meta:
                h, w = img_meta['img_shape'][:2]
                bboxes[:, 0::2] = bboxes[:, 0::2].clamp(0, w)
                bboxes[:, 1::2] = bboxes[:, 1::2].clamp(0, h)
            results = InstanceData(bboxes=bboxes, scores=scores, labels=labels)
            results = self._bbox_post_process(results, cfg, rescale=rescale,
                                              with_nms=with_nms, img_meta=img_meta)
            results_list.append(results)
        return results_list
