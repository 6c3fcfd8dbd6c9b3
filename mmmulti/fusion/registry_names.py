"""Command-line names of the fusion methods (case-insensitive)."""
from __future__ import annotations

from mmmulti.registry import FUSION_METHODS
from .base import BaseFusion

#: tool name -> registered type
METHOD_ALIASES = {
    'wbf': 'WBF',
    'all_boxes': 'AllBoxes',
    'single_reader': 'SingleReader',
    'majority_vote': 'MajorityVote',
    'nms': 'NMS',
    'soft_nms': 'SoftNMS',
    'nmw': 'NMW',
    'reliability_wbf': 'ReliabilityWBF',
}


def build_fusion(method: str, **options) -> BaseFusion:
    """Build a fusion method from its command-line name (or registered type).

    Options that are None are left at the method's default.
    """
    key = method.strip().lower().replace('-', '_')
    type_name = METHOD_ALIASES.get(key)
    if type_name is None:
        by_type = {v.lower(): v for v in METHOD_ALIASES.values()}
        type_name = by_type.get(key)
    if type_name is None:
        raise ValueError(f'unknown fusion method {method!r}; choose from '
                         f'{", ".join(METHOD_ALIASES)}')
    cfg = dict(type=type_name)
    cfg.update({k: v for k, v in options.items() if v is not None})
    return FUSION_METHODS.build(cfg)
