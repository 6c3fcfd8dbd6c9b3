"""Models: EARL (a decorator of mmdet dense heads) and the YOLOv5- and
EfficientDet-style components (backbones, necks, dense_heads)."""
from .earl import (EARLHeadMixin, EARLOptions, EARLWeightedLoss, apply_earl,  # noqa: F401
                   build_earl_head, earl_class, find_earl_adapter, gt_earl_weights,
                   register_earl_adapter, strip_earl)

try:  # components of another module; EARL works without them
    from . import backbones, dense_heads, necks  # noqa: F401
except ImportError as err:  # pragma: no cover - only while they are being written
    import warnings
    warnings.warn(f'mmmulti.models: could not import backbones/necks/dense_heads: {err}')

__all__ = ['EARLHeadMixin', 'EARLOptions', 'EARLWeightedLoss', 'apply_earl',
           'build_earl_head', 'earl_class', 'find_earl_adapter', 'gt_earl_weights',
           'register_earl_adapter', 'strip_earl']
