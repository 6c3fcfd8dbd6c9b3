"""A RetinaHead whose classification and box branches share one conv tower.

It only changes the layers (``_init_layers``, ``forward_single``) and keeps
``AnchorHead``'s targets and loss, so EARL decorates it with no extra code.
"""
from typing import Tuple

import torch.nn as nn
from mmcv.cnn import ConvModule
from mmdet.models.dense_heads import RetinaHead
from torch import Tensor

from mmmulti.registry import MODELS


@MODELS.register_module()
class SharedTowerRetinaHead(RetinaHead):
    """RetinaHead with one shared ``stacked_convs`` tower (half the tower
    compute of RetinaHead's two towers)."""

    def _init_layers(self) -> None:
        self.relu = nn.ReLU(inplace=True)
        self.shared_convs = nn.ModuleList(
            ConvModule(self.in_channels if i == 0 else self.feat_channels,
                       self.feat_channels, 3, stride=1, padding=1,
                       conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg)
            for i in range(self.stacked_convs))
        # RetinaHead's init_cfg names `retina_cls` for its prior-prob bias
        self.retina_cls = nn.Conv2d(self.feat_channels,
                                    self.num_base_priors * self.cls_out_channels, 3, padding=1)
        self.retina_reg = nn.Conv2d(self.feat_channels,
                                    self.num_base_priors * self.bbox_coder.encode_size, 3,
                                    padding=1)

    def forward_single(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        for conv in self.shared_convs:
            x = conv(x)
        return self.retina_cls(x), self.retina_reg(x)
