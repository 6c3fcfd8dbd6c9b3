"""A RetinaHead that ignores gt boxes smaller than ``min_gt_size`` pixels, and
the EARL family that teaches EARL this head, from outside mmmulti.

The head overrides ``get_targets``, one of the methods EARL's AnchorHead family
relies on, so EARL refuses it until a family is registered for it (rather than
guess where its weights go). Here the override only filters the gts before
AnchorHead's own assignment, so the family is AnchorHead's adapter as it is;
a head with its own assignment would override ``_get_targets_single`` /
``get_targets`` / ``loss_by_feat`` in its family class (docs/earl.md).
"""
from typing import List

from mmdet.models.dense_heads import RetinaHead
from mmengine.structures import InstanceData

from mmmulti.models import register_earl_adapter
from mmmulti.models.earl.adapters import AnchorHeadEARL
from mmmulti.registry import MODELS


@MODELS.register_module()
class MinSizeRetinaHead(RetinaHead):
    """RetinaHead trained only on gt boxes at least ``min_gt_size`` px wide and
    high (smaller ones are neither positives nor counted in the loss)."""

    def __init__(self, *args, min_gt_size: float = 0.0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.min_gt_size = float(min_gt_size)

    def _large_enough(self, gts: List[InstanceData]) -> List[InstanceData]:
        out = []
        for gt in gts:
            wh = gt.bboxes[:, 2:] - gt.bboxes[:, :2]
            out.append(gt[(wh >= self.min_gt_size).all(1)])
        return out

    def get_targets(self, anchor_list, valid_flag_list, batch_gt_instances, *args,
                    **kwargs) -> tuple:
        return super().get_targets(anchor_list, valid_flag_list,
                                   self._large_enough(batch_gt_instances), *args, **kwargs)


@register_earl_adapter(MinSizeRetinaHead, supports='MinSizeRetinaHead (projects/example_head)')
class MinSizeRetinaHeadEARL(AnchorHeadEARL):
    """EARL for :class:`MinSizeRetinaHead`: AnchorHead's assignment records each
    kept gt's weight (the filter runs before it), so nothing to override."""
