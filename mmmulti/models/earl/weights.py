"""The one place where EARL turns gt weights into prior weights.

Every head family finds, its own way, which gt each prior (anchor, point,
grid cell, matched target) was assigned to; from there the weights are the
same for all: a positive prior weighs its gt's EARL weight, any other prior 1,
and ``normalize='mean'`` divides the positives by their mean over the batch
(per process under distributed training).
"""
from typing import List, Optional, Sequence, Tuple

import torch
from torch import Tensor


def earl_prior_weights(gt_weights: Tensor, prior_gt: Sequence[Tensor],
                       normalize: Optional[str] = None) -> Tuple[List[Tensor], Tensor]:
    """Per-prior EARL weights of a batch.

    Args:
        gt_weights: (G, ) the EARL weight of every gt box of the batch.
        prior_gt: per group of priors (an image, a level), the index into
            ``gt_weights`` of the gt each prior is assigned to, -1 when the
            prior is not positive.
        normalize: ``None`` or ``'mean'``.

    Returns:
        The weights, shaped like ``prior_gt``, and the weights of the
        positive priors (concatenated, after normalisation).
    """
    if normalize not in (None, 'mean'):
        raise ValueError(f"EARL: normalize must be None or 'mean', got {normalize!r}")
    weights = []
    for idx in prior_gt:
        pos = idx >= 0
        w = torch.ones(idx.shape, device=idx.device, dtype=torch.float32)
        if bool(pos.any()):
            w[pos] = gt_weights.to(device=idx.device, dtype=torch.float32)[idx[pos]]
        weights.append(w)
    pos_w = torch.cat([w[idx >= 0] for w, idx in zip(weights, prior_gt)]) if weights \
        else gt_weights.new_zeros(0)
    if normalize == 'mean' and pos_w.numel():
        mean = pos_w.mean()
        if bool(mean > 0):
            weights = [torch.where(idx >= 0, w / mean, w) for w, idx in zip(weights, prior_gt)]
            pos_w = pos_w / mean
    return weights, pos_w
