"""Training hooks of mmmulti."""
from __future__ import annotations

import math
from typing import Any, Dict, List, Optional

import torch
import torch.distributed as dist
from mmengine.hooks import Hook
from mmengine.runner import EpochBasedTrainLoop

from mmmulti.registry import HOOKS


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN or infinite loss."""

    user_error = True  # a bad setting (lr, data), not a bug: one error line


@HOOKS.register_module()
class FiniteLossHook(Hook):
    """Stop training at the first non-finite loss, naming the iteration and terms.

    A NaN loss (too high a learning rate, a degenerate box) otherwise trains on
    silently: the weights turn NaN, checkpoints of NaN weights are saved and
    the run exits 0. This hook runs right after each iteration's update, before
    the logger, EMA and checkpoint hooks (priority ``VERY_HIGH``), so no
    checkpoint of the broken weights is written. It costs one small host sync
    per iteration. In distributed runs every rank learns about any rank's
    non-finite loss (one all-reduce), so all stop together instead of hanging.
    """

    priority = 'VERY_HIGH'

    @staticmethod
    def _loss_terms(outputs: Any) -> Dict[str, Any]:
        if not isinstance(outputs, dict):
            return {}
        return {k: v for k, v in outputs.items() if 'loss' in k}

    def after_train_iter(self, runner, batch_idx: int, data_batch: Any = None,
                         outputs: Optional[dict] = None) -> None:
        terms = self._loss_terms(outputs)
        values: List[torch.Tensor] = []
        for value in terms.values():
            t = value.detach() if isinstance(value, torch.Tensor) else torch.tensor(value)
            values.append(t.float().reshape(-1))
        if not values:
            return
        flat = torch.cat([v.to(values[0].device) for v in values])
        bad = (~torch.isfinite(flat)).any().to(torch.int32)
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(bad)  # every rank stops at the same iteration
        if not bad.item():
            return
        shown = {}
        for name, value in terms.items():
            v = value.detach().float().mean().item() if isinstance(value, torch.Tensor) \
                else float(value)
            shown[name] = v
        bad_terms = [f'{k}={v}' for k, v in shown.items() if not math.isfinite(v)]
        where = f'iteration {runner.iter + 1}'
        if isinstance(runner.train_loop, EpochBasedTrainLoop):
            where += f' (epoch {runner.epoch + 1}, batch {batch_idx + 1})'
        raise NonFiniteLossError(
            f'non-finite loss at {where}: '
            f'{", ".join(bad_terms) or "on another rank"} '
            f'(all terms: {", ".join(f"{k}={v:.4g}" for k, v in shown.items())}). '
            'Training stopped before saving these weights. Common causes: too high a '
            'learning rate, bad boxes in the data, AMP overflow.')
