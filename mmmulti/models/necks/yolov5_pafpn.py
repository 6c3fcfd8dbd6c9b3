"""YOLOv5 v6/v7 PAFPN neck.

Differs from mmdet's ``YOLOXPAFPN`` in where the bottom-up path takes its
lateral input: YOLOv5 concatenates the *reduced* (1x1 conv) top-down maps,
and every C3 block of the neck has no shortcut. Channels and depths follow
YOLOv5's rounding (see ``yolov5_channels`` / ``yolov5_depth``).
"""
from typing import List, Sequence, Tuple

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmdet.models.layers import CSPLayer
from mmdet.utils import ConfigType, OptMultiConfig
from mmengine.model import BaseModule
from torch import Tensor

from mmmulti.registry import MODELS
from ..backbones.yolov5_csp_darknet import (YOLOV5_ACT_CFG, YOLOV5_INIT_CFG,
                                            YOLOV5_NORM_CFG, yolov5_channels,
                                            yolov5_depth)


@MODELS.register_module()
class YOLOv5PAFPN(BaseModule):
    """Top-down then bottom-up path aggregation with C3 blocks.

    ``in_channels`` / ``out_channels`` are the *unscaled* (l-size) widths;
    ``widen_factor`` scales both the way the backbone does. The output widths
    equal the (scaled) input widths: P3 256, P4 512, P5 1024 at l-size.
    """

    def __init__(self,
                 in_channels: Sequence[int] = (256, 512, 1024),
                 deepen_factor: float = 1.0,
                 widen_factor: float = 1.0,
                 num_csp_blocks: int = 3,
                 norm_cfg: ConfigType = YOLOV5_NORM_CFG,
                 act_cfg: ConfigType = YOLOV5_ACT_CFG,
                 init_cfg: OptMultiConfig = YOLOV5_INIT_CFG) -> None:
        super().__init__(init_cfg=init_cfg)
        chs = [yolov5_channels(c, widen_factor) for c in in_channels]
        self.in_channels = chs
        self.out_channels = list(chs)
        n = yolov5_depth(num_csp_blocks, deepen_factor)
        num_levels = len(chs)

        def conv(cin: int, cout: int, k: int, s: int = 1) -> ConvModule:
            return ConvModule(cin, cout, k, stride=s, padding=k // 2,
                              norm_cfg=norm_cfg, act_cfg=act_cfg)

        def c3(cin: int, cout: int) -> CSPLayer:
            return CSPLayer(cin, cout, num_blocks=n, add_identity=False,
                            use_cspnext_block=False, norm_cfg=norm_cfg,
                            act_cfg=act_cfg)

        # top-down, from the deepest level: reduce (1x1), upsample, concat, C3
        self.reduce_layers = nn.ModuleList()
        self.top_down_blocks = nn.ModuleList()
        for i in range(num_levels - 1, 0, -1):
            self.reduce_layers.append(conv(chs[i], chs[i - 1], 1))
            self.top_down_blocks.append(c3(chs[i - 1] * 2, chs[i - 1]))
        self.upsample = nn.Upsample(scale_factor=2, mode='nearest')
        # bottom-up: 3x3 s2 conv, concat with the reduced top-down map, C3
        self.downsamples = nn.ModuleList()
        self.bottom_up_blocks = nn.ModuleList()
        for i in range(num_levels - 1):
            self.downsamples.append(conv(chs[i], chs[i], 3, 2))
            self.bottom_up_blocks.append(c3(chs[i] * 2, chs[i + 1]))

    def forward(self, inputs: Tuple[Tensor, ...]) -> Tuple[Tensor, ...]:
        if len(inputs) != len(self.in_channels):
            raise ValueError(f'YOLOv5PAFPN: got {len(inputs)} feature maps, '
                             f'expected {len(self.in_channels)}')
        num_levels = len(inputs)
        x = inputs[-1]
        reduced: List[Tensor] = []  # reduced maps, deepest first
        for k, i in enumerate(range(num_levels - 1, 0, -1)):
            x = self.reduce_layers[k](x)
            reduced.append(x)
            x = self.top_down_blocks[k](torch.cat([self.upsample(x), inputs[i - 1]], 1))
        outs = [x]
        for i in range(num_levels - 1):
            lateral = reduced[num_levels - 2 - i]
            x = self.bottom_up_blocks[i](torch.cat([self.downsamples[i](x), lateral], 1))
            outs.append(x)
        return tuple(outs)
