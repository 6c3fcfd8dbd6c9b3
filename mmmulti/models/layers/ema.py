"""YOLOv5's weight EMA, updated with multi-tensor kernels.

mmdet's ``ExpMomentumEMA`` updates the averaged weights one tensor at a time
(two kernels per tensor, a Python call each); at YOLOv5-n size on a CPU that
loop was about a tenth of the training step. This subclass computes the
same momentum once per step and updates every floating tensor with
``torch._foreach_mul_`` / ``_foreach_add_``: the same arithmetic in the same
order, so the averages equal mmdet's bit for bit (tested).
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
from mmdet.models.layers import ExpMomentumEMA

from mmmulti.registry import MODELS


@MODELS.register_module()
class BatchedExpMomentumEMA(ExpMomentumEMA):
    """``ExpMomentumEMA`` (same arguments) with a batched update."""

    def momentum_at(self, steps: int) -> float:
        """Weight of the source model at update ``steps`` (mmdet's formula)."""
        return (1 - self.momentum) * math.exp(-float(1 + steps) / self.gamma) + self.momentum

    def update_parameters(self, model: nn.Module) -> None:
        source = model.state_dict() if self.update_buffers else dict(model.named_parameters())
        if self.steps == 0 or self.steps % self.interval != 0:
            super().update_parameters(model)  # the first copy, and skipped steps
            return
        averaged, current = [], []
        for key, avg in self.avg_parameters.items():
            if avg.dtype.is_floating_point:
                averaged.append(avg.data)
                current.append(source[key].data.to(avg.device))
        momentum = self.momentum_at(self.steps)
        with torch.no_grad():
            torch._foreach_mul_(averaged, 1 - momentum)
            torch._foreach_add_(averaged, current, alpha=momentum)
        if not self.update_buffers:
            for b_avg, b_src in zip(self.module.buffers(), model.buffers()):
                b_avg.data.copy_(b_src.data.to(b_avg.device))
        self.steps += 1
