"""YOLOv5's box loss: 1 - Complete IoU of the matched prediction and target.

mmdet's ``CIoULoss`` switches the aspect-ratio term off below IoU 0.5; YOLOv5's
CIoU keeps it everywhere, and its objectness target is that same CIoU. Both
are written here from the CIoU definition (Zheng et al., 2020).
"""
import math
from typing import Optional

import torch
import torch.nn as nn
from mmdet.models.losses.utils import weight_reduce_loss
from torch import Tensor

from mmmulti.registry import MODELS


def bbox_ciou_xywh(box1: Tensor, box2: Tensor, eps: float = 1e-7) -> Tensor:
    """Complete IoU of paired (cx, cy, w, h) boxes; shape (n, )."""
    (x1, y1, w1, h1), (x2, y2, w2, h2) = box1.unbind(-1), box2.unbind(-1)
    b1_x1, b1_x2, b1_y1, b1_y2 = x1 - w1 / 2, x1 + w1 / 2, y1 - h1 / 2, y1 + h1 / 2
    b2_x1, b2_x2, b2_y1, b2_y2 = x2 - w2 / 2, x2 + w2 / 2, y2 - h2 / 2, y2 + h2 / 2
    inter = (torch.min(b1_x2, b2_x2) - torch.max(b1_x1, b2_x1)).clamp(0) * \
            (torch.min(b1_y2, b2_y2) - torch.max(b1_y1, b2_y1)).clamp(0)
    union = w1 * h1 + w2 * h2 - inter + eps
    iou = inter / union
    cw = torch.max(b1_x2, b2_x2) - torch.min(b1_x1, b2_x1)  # enclosing box
    ch = torch.max(b1_y2, b2_y2) - torch.min(b1_y1, b2_y1)
    c2 = cw ** 2 + ch ** 2 + eps
    rho2 = ((b2_x1 + b2_x2 - b1_x1 - b1_x2) ** 2 + (b2_y1 + b2_y2 - b1_y1 - b1_y2) ** 2) / 4
    v = (4 / math.pi ** 2) * torch.pow(torch.atan(w2 / h2) - torch.atan(w1 / h1), 2)
    with torch.no_grad():
        alpha = v / (v - iou + (1 + eps))
    return iou - (rho2 / c2 + v * alpha)


@MODELS.register_module()
class YOLOv5CIoULoss(nn.Module):
    """``loss_weight * reduce(w * (1 - CIoU))`` of (cx, cy, w, h) box pairs.

    Args:
        reduction: 'mean' (YOLOv5's), 'sum' or 'none'.
        loss_weight: multiplies the loss.
        eps: keeps the IoU and the enclosing diagonal finite.
    """

    def __init__(self, reduction: str = 'mean', loss_weight: float = 1.0,
                 eps: float = 1e-7) -> None:
        super().__init__()
        self.reduction = reduction
        self.loss_weight = loss_weight
        self.eps = eps

    def forward(self, pred: Tensor, target: Tensor, weight: Optional[Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None) -> Tensor:
        reduction = reduction_override or self.reduction
        loss = 1.0 - bbox_ciou_xywh(pred, target, self.eps)
        return self.loss_weight * weight_reduce_loss(loss, weight, reduction, avg_factor)
