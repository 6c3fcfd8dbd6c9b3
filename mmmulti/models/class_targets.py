"""Soft class targets of gt boxes: the readers' class shares, as dense rows.

Boxes fused by ``SoftWBF`` reach the head with ``class_share_labels`` /
``class_shares`` (n, K) in their ``gt_instances``
(:mod:`mmmulti.datasets.transforms.class_shares`). Heads that train on them
(``YOLOv5Head``, the AnchorHead family under EARL) turn them into (n, C)
targets here: row i holds box i's share of every class and sums to 1. Boxes
without shares (plain or WBF-fused data) get the one-hot row of their label,
so a head's soft path equals its hard path on such data.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
from mmengine.structures import InstanceData
from torch import Tensor


def has_class_shares(gt_instances: InstanceData) -> bool:
    """Whether the boxes of one image carry the readers' class shares."""
    return 'class_shares' in gt_instances


def gt_class_targets(gt_instances: InstanceData, num_classes: int) -> Tensor:
    """(n, C) class target of each gt box of one image (shares or one-hot)."""
    labels = gt_instances.labels
    n = labels.numel()
    out = torch.zeros((n, num_classes), dtype=torch.float32, device=labels.device)
    if not has_class_shares(gt_instances):
        if n:
            out[torch.arange(n, device=labels.device), labels.long()] = 1.0
        return out
    idx = gt_instances.class_share_labels.to(labels.device).long()
    shares = gt_instances.class_shares.to(device=labels.device, dtype=torch.float32)
    if idx.shape != shares.shape or idx.shape[0] != n:
        raise ValueError(f'class shares of shape {tuple(shares.shape)} / labels '
                         f'{tuple(idx.shape)} for {n} gt boxes')
    valid = idx >= 0
    if bool((idx[valid] >= num_classes).any()):
        raise ValueError(f'class share labels reach {int(idx.max())}, the head has '
                         f'{num_classes} classes')
    return out.scatter_add_(1, idx.clamp(min=0), shares * valid)


def batch_class_targets(batch_gt_instances: Sequence[InstanceData], num_classes: int,
                        device: torch.device) -> Optional[Tensor]:
    """The batch's (sum n, C) class targets, images in order; ``None`` when no
    image carries shares (the head keeps its one-hot arithmetic)."""
    if not any(has_class_shares(gt) for gt in batch_gt_instances):
        return None
    return torch.cat([gt_class_targets(gt, num_classes).to(device)
                      for gt in batch_gt_instances], 0)
