"""EfficientDet class / box head on mmdet's ``AnchorHead``.

Only the layers and the forward pass are new: depthwise-separable convs whose
weights are shared across pyramid levels with one BN per level and repeat
(mmdet's ``RetinaSepBNHead`` shares BN-free regular convs differently), swish,
then a separable "header" conv. Target assignment and the loss stay
AnchorHead's (``get_targets`` / ``_get_targets_single`` /
``loss_by_feat_single`` untouched), so an EARL adapter that weights
AnchorHead targets applies to this head as is.

Defaults follow the EfficientDet reference: 9 anchors (octave base scale 4,
3 scales per octave, ratios 0.5/1/2, centred in the cell), focal loss
(alpha 0.25, gamma 1.5), Huber box loss with delta 0.1 and weight 50 on
unscaled deltas normalised by 4 x positives. mmdet's SmoothL1 with beta 0.1
equals Huber(0.1) / 0.1 and its avg_factor is the positive count, so the
reference weight is 50 x 0.1 / 4 = 1.25. IoU 0.5 matching with no ignore
band and a forced match for every gt (``min_pos_iou=0``).
"""
import math
from typing import List, Tuple

import torch.nn as nn
from mmcv.cnn import build_activation_layer, build_norm_layer
from mmdet.models.dense_heads import AnchorHead
from mmdet.utils import ConfigType
from torch import Tensor

from mmmulti.registry import MODELS
from ..necks.bifpn import EFFDET_ACT_CFG, EFFDET_NORM_CFG, SeparableConv

EFFDET_ANCHOR_GENERATOR = dict(type='AnchorGenerator', octave_base_scale=4,
                               scales_per_octave=3, ratios=[0.5, 1.0, 2.0],
                               strides=[8, 16, 32, 64, 128], center_offset=0.5)
EFFDET_BBOX_CODER = dict(type='DeltaXYWHBBoxCoder', target_means=[0.0, 0.0, 0.0, 0.0],
                         target_stds=[1.0, 1.0, 1.0, 1.0])
EFFDET_LOSS_CLS = dict(type='FocalLoss', use_sigmoid=True, gamma=1.5, alpha=0.25,
                       loss_weight=1.0)
EFFDET_LOSS_BBOX = dict(type='SmoothL1Loss', beta=0.1, loss_weight=1.25)


@MODELS.register_module()
class EfficientDetHead(AnchorHead):
    """Separable-conv class and box nets, conv weights shared across levels.

    Args:
        num_classes: object classes.
        in_channels: BiFPN width W (also the head width).
        stacked_convs: separable convs per net before the header (3/3/3/4/4
            for D0-D4).
        num_levels: pyramid levels (5: P3-P7), one BN set per level.
        prior_prob: initial foreground probability of the class header bias.
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 stacked_convs: int = 3,
                 num_levels: int = 5,
                 norm_cfg: ConfigType = EFFDET_NORM_CFG,
                 act_cfg: ConfigType = EFFDET_ACT_CFG,
                 prior_prob: float = 0.01,
                 anchor_generator: ConfigType = EFFDET_ANCHOR_GENERATOR,
                 bbox_coder: ConfigType = EFFDET_BBOX_CODER,
                 loss_cls: ConfigType = EFFDET_LOSS_CLS,
                 loss_bbox: ConfigType = EFFDET_LOSS_BBOX,
                 **kwargs) -> None:
        self.stacked_convs = stacked_convs
        self.num_levels = num_levels
        self.norm_cfg = norm_cfg
        self.act_cfg = act_cfg
        self.prior_prob = prior_prob
        kwargs.setdefault('init_cfg', None)
        super().__init__(num_classes=num_classes, in_channels=in_channels,
                         feat_channels=in_channels, anchor_generator=anchor_generator,
                         bbox_coder=bbox_coder, loss_cls=loss_cls, loss_bbox=loss_bbox,
                         **kwargs)
        if self.prior_generator.num_levels != num_levels:
            raise ValueError(f'EfficientDetHead: anchor generator has '
                             f'{self.prior_generator.num_levels} levels, '
                             f'num_levels is {num_levels}')
        self._init_header_bias()

    def _init_layers(self) -> None:
        W = self.in_channels
        self.act = build_activation_layer(self.act_cfg)

        def net() -> Tuple[nn.ModuleList, nn.ModuleList]:
            convs = nn.ModuleList(SeparableConv(W, W, 3, with_norm=False)
                                  for _ in range(self.stacked_convs))
            bns = nn.ModuleList(
                nn.ModuleList(build_norm_layer(self.norm_cfg, W)[1]
                              for _ in range(self.num_levels))
                for _ in range(self.stacked_convs))
            return convs, bns

        self.cls_convs, self.cls_bns = net()
        self.reg_convs, self.reg_bns = net()
        self.cls_header = SeparableConv(W, self.num_base_priors * self.cls_out_channels, 3,
                                        with_norm=False)
        self.reg_header = SeparableConv(W, self.num_base_priors * self.bbox_coder.encode_size,
                                        3, with_norm=False)

    def _init_header_bias(self) -> None:
        """Focal-loss prior: every anchor starts at foreground prob ``prior_prob``."""
        nn.init.constant_(self.cls_header.pointwise.bias,
                          -math.log((1 - self.prior_prob) / self.prior_prob))
        nn.init.zeros_(self.reg_header.pointwise.bias)

    def init_weights(self) -> None:
        super().init_weights()
        self._init_header_bias()

    def _run_net(self, x: Tensor, level: int, convs: nn.ModuleList,
                 bns: nn.ModuleList, header: nn.Module) -> Tensor:
        for conv, level_bns in zip(convs, bns):
            x = self.act(level_bns[level](conv(x)))
        return header(x)

    def forward(self, x: Tuple[Tensor, ...]) -> Tuple[List[Tensor], List[Tensor]]:
        if len(x) != self.num_levels:
            raise ValueError(f'EfficientDetHead: got {len(x)} feature maps, '
                             f'expected {self.num_levels}')
        cls_scores, bbox_preds = [], []
        for level, feat in enumerate(x):
            cls_scores.append(self._run_net(feat, level, self.cls_convs, self.cls_bns,
                                            self.cls_header))
            bbox_preds.append(self._run_net(feat, level, self.reg_convs, self.reg_bns,
                                            self.reg_header))
        return cls_scores, bbox_preds
