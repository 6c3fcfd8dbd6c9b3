"""Models: EARL (:mod:`.earl`, around mmdet dense heads) and the YOLOv5- and
EfficientDet-style components (backbones, necks, dense_heads, losses, task_modules,
data_preprocessors)."""
from .earl import (EARLHeadMixin, EARLOptions,  # noqa: F401
                   build_earl_head, earl_class, earl_prior_weights, find_earl_adapter,
                   gt_earl_weights, register_earl_adapter)

from . import backbones, data_preprocessors, dense_heads, layers, losses, necks, task_modules  # noqa: F401,E402

__all__ = ['EARLHeadMixin', 'EARLOptions', 'build_earl_head',
           'earl_class', 'earl_prior_weights', 'find_earl_adapter', 'gt_earl_weights',
           'register_earl_adapter']
