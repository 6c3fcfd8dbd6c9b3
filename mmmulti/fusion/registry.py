"""The registry of truth-inference methods.

A plain mmengine ``Registry`` (no parent), so that ``mmmulti.fusion`` and the
data tools load neither torch nor mmdet. ``mmmulti.registry`` re-exports it
for configs in the ``mmmulti`` scope.
"""
from mmengine.registry import Registry

FUSION_METHODS = Registry('fusion method', scope='mmmulti', locations=['mmmulti.fusion'])
