"""EARL for heads with the gt-weight hook (``get_gt_weights``, ``earl_terms``,
``earl_normalize``), e.g. our YOLOv5Head: the head applies the weights itself.

Tried before every other family: a head that offers the hook knows best.
"""
from typing import List

from torch import Tensor

from .mixin import EARLHeadMixin
from .table import register_earl_adapter


@register_earl_adapter(lambda c: callable(getattr(c, 'get_gt_weights', None)),
                       rank=10, supports='heads with a get_gt_weights hook (YOLOv5Head)')
class GtWeightHookEARL(EARLHeadMixin):
    """Heads with a native hook (``get_gt_weights`` returning per-image gt
    weights, ``earl_terms``, ``earl_normalize``), e.g. our YOLOv5Head: the head
    applies the weights itself."""

    def get_gt_weights(self, batch_gt_instances) -> List[Tensor]:
        return [self.earl_gt_weights(gt) for gt in batch_gt_instances]

    def _earl_configure(self) -> None:
        self.earl_terms = set(self.earl_options.terms)
        self.earl_normalize = self.earl_options.normalize
