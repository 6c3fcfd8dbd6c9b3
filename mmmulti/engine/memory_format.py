"""Channels-last weights for convolutional detectors on the CPU.

oneDNN, which runs torch's CPU convolutions, works in a channels-last (NHWC)
layout; NCHW weights and activations are reordered around every convolution,
forward and backward. Keeping the weights channels-last makes every
convolution's output channels-last too (torch follows the weight's layout), so
the reorders go away: YOLOv5-n's quick-start step at 128 px, batch 16, ran
115 -> 94 ms on 2 threads (benchmarks/train_step.py, docs/speed.md). Only the
memory layout changes, not the arithmetic's meaning; results differ from NCHW
runs in the last bits, as any change of convolution algorithm does.
"""
from __future__ import annotations

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmmulti.registry import HOOKS


@HOOKS.register_module()
class ChannelsLastHook(Hook):
    """Convert the model's weights to ``torch.channels_last`` before the run.

    Runs at ``before_run`` with priority ``VERY_HIGH``: after the optimizer is
    built (its parameters are the same objects; only their storage changes) and
    before :class:`mmengine.hooks.EMAHook` copies the model, so the EMA copy is
    channels-last as well; before checkpoints load, which copy into the
    converted tensors and keep their layout. Train, validation and test runs
    all pass ``before_run``, so a model tested by ``tools/test.py`` with the
    same config is converted too.
    """

    priority = 'VERY_HIGH'

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled

    def before_run(self, runner) -> None:
        if not self.enabled:
            return
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        model.to(memory_format=torch.channels_last)
