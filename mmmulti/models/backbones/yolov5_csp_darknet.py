"""YOLOv5 v6.x / v7.0 backbone (CSP-Darknet with a 6x6 stem conv and SPPF).

Why not mmdet's ``CSPDarknet``: that class is the YOLOX / YOLOv5-v5.0 variant
(Focus stem, C3 depths 3-9-9-3, SPP(5, 9, 13) *before* the last C3 without
shortcut). The v6.0+ network the project reproduces has a 6x6 stride-2 stem
conv, C3 depths 3-6-9-3 with shortcuts, and SPPF *after* the last C3. The C3
block itself is mmdet's ``CSPLayer`` (``use_cspnext_block=False``: the
Darknet bottleneck with expansion 1.0), reused here as is.
"""
import math
from typing import List, Sequence, Tuple

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmdet.models.layers import CSPLayer
from mmdet.utils import ConfigType, OptMultiConfig
from mmengine.model import BaseModule
from torch import Tensor
from torch.nn.modules.batchnorm import _BatchNorm

from mmmulti.registry import MODELS

# YOLOv5's Kaiming-uniform(a=sqrt(5)) is PyTorch's own default conv init.
YOLOV5_INIT_CFG = dict(type='Kaiming', layer='Conv2d', a=math.sqrt(5),
                       distribution='uniform', mode='fan_in',
                       nonlinearity='leaky_relu')
YOLOV5_NORM_CFG = dict(type='BN', momentum=0.03, eps=0.001)
# Not in place: under autograd an in-place SiLU has to clone its input for the
# backward pass (the derivative needs it), so it saves no memory and adds a copy of
# every activation; out of place the step is ~2.5 % faster on a 2-core CPU with the
# same arithmetic (docs/speed.md).
YOLOV5_ACT_CFG = dict(type='SiLU', inplace=False)


def yolov5_channels(channels: int, widen_factor: float, divisor: int = 8) -> int:
    """YOLOv5's ``make_divisible(c * gw, 8)``: scale then round *up* to 8."""
    return int(math.ceil(channels * widen_factor / divisor) * divisor)


def yolov5_depth(num_blocks: int, deepen_factor: float) -> int:
    """YOLOv5's ``max(round(n * gd), 1)``."""
    return max(round(num_blocks * deepen_factor), 1)


@MODELS.register_module()
class SPPF(BaseModule):
    """Spatial Pyramid Pooling - Fast: three chained k x k max-pools.

    Equivalent in receptive field to SPP(k, 2k-1, 3k-2) (5, 9, 13 for k=5)
    but cheaper; mmdet only has the parallel SPP (``SPPBottleneck``).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 5,
                 norm_cfg: ConfigType = YOLOV5_NORM_CFG,
                 act_cfg: ConfigType = YOLOV5_ACT_CFG,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        mid_channels = in_channels // 2
        self.conv1 = ConvModule(in_channels, mid_channels, 1,
                                norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.pool = nn.MaxPool2d(kernel_size, stride=1, padding=kernel_size // 2)
        self.conv2 = ConvModule(mid_channels * 4, out_channels, 1,
                                norm_cfg=norm_cfg, act_cfg=act_cfg)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv1(x)
        y1 = self.pool(x)
        y2 = self.pool(y1)
        return self.conv2(torch.cat((x, y1, y2, self.pool(y2)), dim=1))


@MODELS.register_module()
class YOLOv5CSPDarknet(BaseModule):
    """YOLOv5 v6/v7 backbone; sizes n/s/m/l/x via deepen/widen factors.

    Layers: stem (Conv 6x6 s2) then 4 stages of [Conv 3x3 s2, C3 x n]
    (the last one followed by SPPF). ``out_indices`` count the stem as 0,
    so (2, 3, 4) are the stride 8/16/32 maps (P3, P4, P5).
    """

    # out_channels, num_blocks (before deepen), C3 shortcut, SPPF after C3
    arch_settings = {
        'P5': [[128, 3, True, False], [256, 6, True, False],
               [512, 9, True, False], [1024, 3, True, True]],
    }

    def __init__(self,
                 arch: str = 'P5',
                 deepen_factor: float = 1.0,
                 widen_factor: float = 1.0,
                 stem_channels: int = 64,
                 out_indices: Sequence[int] = (2, 3, 4),
                 frozen_stages: int = -1,
                 sppf_kernel_size: int = 5,
                 norm_cfg: ConfigType = YOLOV5_NORM_CFG,
                 act_cfg: ConfigType = YOLOV5_ACT_CFG,
                 norm_eval: bool = False,
                 init_cfg: OptMultiConfig = YOLOV5_INIT_CFG) -> None:
        super().__init__(init_cfg=init_cfg)
        if arch not in self.arch_settings:
            raise KeyError(f'YOLOv5CSPDarknet: unknown arch {arch!r}; '
                           f'known: {sorted(self.arch_settings)}')
        setting = self.arch_settings[arch]
        if not set(out_indices).issubset(range(len(setting) + 1)):
            raise ValueError(f'YOLOv5CSPDarknet: out_indices {out_indices} '
                             f'not in 0..{len(setting)}')
        if frozen_stages not in range(-1, len(setting) + 1):
            raise ValueError(f'YOLOv5CSPDarknet: frozen_stages {frozen_stages} '
                             f'not in -1..{len(setting)}')
        self.out_indices = tuple(out_indices)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval

        in_ch = yolov5_channels(stem_channels, widen_factor)
        self.stem = ConvModule(3, in_ch, 6, stride=2, padding=2,
                               norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.layers: List[str] = ['stem']
        self.out_channels: List[int] = [in_ch]
        for i, (out_ch, n, shortcut, use_sppf) in enumerate(setting):
            out_ch = yolov5_channels(out_ch, widen_factor)
            stage = [
                ConvModule(in_ch, out_ch, 3, stride=2, padding=1,
                           norm_cfg=norm_cfg, act_cfg=act_cfg),
                CSPLayer(out_ch, out_ch, num_blocks=yolov5_depth(n, deepen_factor),
                         add_identity=shortcut, use_cspnext_block=False,
                         norm_cfg=norm_cfg, act_cfg=act_cfg),
            ]
            if use_sppf:
                stage.append(SPPF(out_ch, out_ch, sppf_kernel_size,
                                  norm_cfg=norm_cfg, act_cfg=act_cfg))
            self.add_module(f'stage{i + 1}', nn.Sequential(*stage))
            self.layers.append(f'stage{i + 1}')
            self.out_channels.append(out_ch)
            in_ch = out_ch

    def _freeze_stages(self) -> None:
        for i in range(self.frozen_stages + 1):
            m = getattr(self, self.layers[i])
            m.eval()
            for param in m.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True) -> 'YOLOv5CSPDarknet':
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        outs = []
        for i, name in enumerate(self.layers):
            x = getattr(self, name)(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
