"""Optimizer construction with two parameter groups instead of one per parameter.

mmengine's ``DefaultOptimWrapperConstructor`` with a ``paramwise_cfg`` puts
every parameter in a group of its own. The optimizer then steps tensor by
tensor: the multi-tensor (``foreach``) and ``fused`` kernels of torch's Adam,
AdamW and SGD cannot batch across groups. At YOLOv5-n size on a CPU that
per-tensor loop was a tenth of the training step.
"""
from __future__ import annotations

import torch.nn as nn
from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapper
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.instancenorm import _InstanceNorm

from mmmulti.registry import OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS, OPTIMIZERS

NORM_LAYERS = (_BatchNorm, _InstanceNorm, nn.GroupNorm, nn.LayerNorm)


def decay_groups(model: nn.Module) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """(decayed, not decayed) trainable parameters: norm layers and biases are
    not decayed (YOLOv5's groups; mmengine's ``norm_decay_mult=0,
    bias_decay_mult=0``)."""
    decayed, kept, seen = [], [], set()
    for module in model.modules():
        for name, param in module.named_parameters(recurse=False):
            if not param.requires_grad or id(param) in seen:
                continue
            seen.add(id(param))
            if isinstance(module, NORM_LAYERS) or name == 'bias':
                kept.append(param)
            else:
                decayed.append(param)
    return decayed, kept


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class DecayGroupsOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """Two groups: weights with the optimizer's ``weight_decay``, norms and
    biases without. Use instead of ``paramwise_cfg=dict(norm_decay_mult=0,
    bias_decay_mult=0)`` so that ``foreach`` / ``fused`` optimizers batch."""

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: dict | None = None) -> None:
        if paramwise_cfg:
            raise ValueError('DecayGroupsOptimWrapperConstructor takes no paramwise_cfg; '
                             'use the default constructor for per-parameter settings')
        super().__init__(optim_wrapper_cfg)

    def __call__(self, model: nn.Module) -> OptimWrapper:
        if hasattr(model, 'module'):
            model = model.module
        optimizer_cfg = self.optimizer_cfg.copy()
        weight_decay = optimizer_cfg.pop('weight_decay', 0.0)
        decayed, kept = decay_groups(model)
        optimizer_cfg['params'] = [dict(params=decayed, weight_decay=weight_decay),
                                   dict(params=kept, weight_decay=0.0)]
        optimizer = OPTIMIZERS.build(optimizer_cfg)
        return OPTIM_WRAPPERS.build(self.optim_wrapper_cfg,
                                    default_args=dict(optimizer=optimizer))
