"""BiFPN neck of EfficientDet (Tan et al., 2020).

P3-P5 come from the backbone; P6 = maxpool(BN(conv1x1(P5))) and
P7 = maxpool(P6). Each stage runs a top-down then a bottom-up pass; every
fusion node combines its inputs with *fast normalised fusion*
(w_i = ReLU(w_i) / (sum_j ReLU(w_j) + 1e-4)), applies swish, then a depthwise
separable 3x3 conv + BN. In the first stage a backbone map whose width is not
the BiFPN width is resampled (1x1 conv + BN) separately for each node that
reads it, as the reference implementation does.
"""
from typing import List, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_activation_layer, build_norm_layer
from mmdet.utils import ConfigType, OptMultiConfig
from mmengine.model import BaseModule
from torch import Tensor

from mmmulti.registry import MODELS

EFFDET_NORM_CFG = dict(type='BN', momentum=0.01, eps=1e-3)
EFFDET_ACT_CFG = dict(type='SiLU')


class SeparableConv(BaseModule):
    """Depthwise k x k (no bias) + pointwise 1x1 (bias), optional BN.

    ``with_norm=False`` leaves normalisation to the caller (EfficientDet's
    head shares the conv across levels but keeps one BN per level).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3,
                 with_norm: bool = True, norm_cfg: ConfigType = EFFDET_NORM_CFG,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.depthwise = nn.Conv2d(in_channels, in_channels, kernel_size,
                                   padding=kernel_size // 2, groups=in_channels, bias=False)
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1, bias=True)
        self.norm = build_norm_layer(norm_cfg, out_channels)[1] if with_norm else None

    def forward(self, x: Tensor) -> Tensor:
        x = self.pointwise(self.depthwise(x))
        return self.norm(x) if self.norm is not None else x


def _resample(in_channels: int, out_channels: int, norm_cfg: ConfigType) -> nn.Sequential:
    """1x1 conv + BN that brings a backbone map to the BiFPN width."""
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 1),
                         build_norm_layer(norm_cfg, out_channels)[1])


class FastFusionNode(BaseModule):
    """Fast normalised weighted sum of n same-shape maps, swish, sep-conv + BN."""

    def __init__(self, num_inputs: int, channels: int, norm_cfg: ConfigType,
                 act_cfg: ConfigType, eps: float = 1e-4) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(num_inputs, dtype=torch.float32))
        self.eps = eps
        self.act = build_activation_layer(act_cfg)
        self.conv = SeparableConv(channels, channels, 3, norm_cfg=norm_cfg)

    def forward(self, inputs: List[Tensor]) -> Tensor:
        w = F.relu(self.weight)
        w = w / (w.sum() + self.eps)
        x = sum(wi * xi for wi, xi in zip(w, inputs))
        return self.conv(self.act(x))


class BiFPNStage(BaseModule):
    """One top-down + bottom-up pass over L levels of equal width."""

    def __init__(self, channels: int, num_levels: int, norm_cfg: ConfigType,
                 act_cfg: ConfigType, eps: float = 1e-4) -> None:
        super().__init__()
        self.num_levels = num_levels
        # td_nodes[k] fuses level L-2-k (P6_td ... P3_out)
        self.td_nodes = nn.ModuleList(
            FastFusionNode(2, channels, norm_cfg, act_cfg, eps) for _ in range(num_levels - 1))
        # bu_nodes[k] fuses level k+1 (P4_out ... P7_out); the top has 2 inputs
        self.bu_nodes = nn.ModuleList(
            FastFusionNode(3 if lvl < num_levels - 1 else 2, channels, norm_cfg, act_cfg, eps)
            for lvl in range(1, num_levels))
        self.downsample = nn.MaxPool2d(3, stride=2, padding=1)

    def forward(self, td_inputs: List[Tensor], bu_inputs: List[Tensor]) -> List[Tensor]:
        """``td_inputs[l]`` / ``bu_inputs[l]``: level l as read by the top-down
        and the bottom-up node (different only in the first stage)."""
        L = self.num_levels
        td = [None] * L
        td[L - 1] = td_inputs[L - 1]
        for k, lvl in enumerate(range(L - 2, -1, -1)):
            up = F.interpolate(td[lvl + 1], size=td_inputs[lvl].shape[-2:], mode='nearest')
            td[lvl] = self.td_nodes[k]([td_inputs[lvl], up])
        outs = [td[0]]
        for lvl in range(1, L):
            down = self.downsample(outs[-1])
            if down.shape[-2:] != bu_inputs[lvl].shape[-2:]:
                down = F.interpolate(down, size=bu_inputs[lvl].shape[-2:], mode='nearest')
            ins = [bu_inputs[lvl], td[lvl], down] if lvl < L - 1 else [bu_inputs[lvl], down]
            outs.append(self.bu_nodes[lvl - 1](ins))
        return outs


@MODELS.register_module()
class BiFPN(BaseModule):
    """EfficientDet's BiFPN: backbone P3-P5 -> ``num_outs`` maps (P3-P7).

    Args:
        in_channels: widths of the backbone maps fed in (P3, P4, P5).
        out_channels: BiFPN width W (64/88/112/160/224 for D0-D4).
        num_stages: BiFPN repeats (3/4/5/6/7 for D0-D4).
        num_outs: output levels; the extra ones are made from the last input.
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 out_channels: int,
                 num_stages: int,
                 num_outs: int = 5,
                 norm_cfg: ConfigType = EFFDET_NORM_CFG,
                 act_cfg: ConfigType = EFFDET_ACT_CFG,
                 eps: float = 1e-4,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_outs < len(in_channels):
            raise ValueError(f'BiFPN: num_outs {num_outs} < {len(in_channels)} inputs')
        self.in_channels = list(in_channels)
        self.out_channels = out_channels
        self.num_outs = num_outs
        num_in = len(in_channels)
        W = out_channels

        def maybe_resample(c: int) -> nn.Module:
            return _resample(c, W, norm_cfg) if c != W else nn.Identity()

        # first stage: separate resampling for the top-down and bottom-up reads
        self.td_resample = nn.ModuleList(maybe_resample(c) for c in in_channels)
        self.bu_resample = nn.ModuleList(
            maybe_resample(c) if 0 < i else nn.Identity() for i, c in enumerate(in_channels))
        # extra levels: P6 from P5 (1x1 conv + BN if widths differ, then pool)
        self.extra_levels = nn.ModuleList()
        for i in range(num_outs - num_in):
            pool = nn.MaxPool2d(3, stride=2, padding=1)
            if i == 0 and in_channels[-1] != W:
                self.extra_levels.append(nn.Sequential(maybe_resample(in_channels[-1]), pool))
            else:
                self.extra_levels.append(pool)
        self.stages = nn.ModuleList(
            BiFPNStage(W, num_outs, norm_cfg, act_cfg, eps) for _ in range(num_stages))

    def forward(self, inputs: Tuple[Tensor, ...]) -> Tuple[Tensor, ...]:
        if len(inputs) != len(self.in_channels):
            raise ValueError(f'BiFPN: got {len(inputs)} feature maps, '
                             f'expected {len(self.in_channels)}')
        extra = []
        x = inputs[-1]
        for layer in self.extra_levels:
            x = layer(x)
            extra.append(x)
        td_inputs = [r(f) for r, f in zip(self.td_resample, inputs)] + extra
        bu_inputs = [r(f) if i > 0 else None
                     for i, (r, f) in enumerate(zip(self.bu_resample, inputs))] + extra
        feats = self.stages[0](td_inputs, bu_inputs)
        for stage in self.stages[1:]:
            feats = stage(feats, feats)
        return tuple(feats)
