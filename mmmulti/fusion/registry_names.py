"""Command-line names of the fusion methods (case-insensitive)."""
from __future__ import annotations

import inspect

from .registry import FUSION_METHODS
from .base import BaseFusion

#: tool name -> registered type
METHOD_ALIASES = {
    'wbf': 'WBF',
    'all_boxes': 'AllBoxes',
    'all_boxes_agreement': 'AllBoxesAgreement',
    'single_reader': 'SingleReader',
    'majority_vote': 'MajorityVote',
    'nms': 'NMS',
    'soft_nms': 'SoftNMS',
    'nmw': 'NMW',
    'reliability_wbf': 'ReliabilityWBF',
    'soft_wbf': 'SoftWBF',
    'dawid_skene_wbf': 'DawidSkeneWBF',
    'presence_wbf': 'PresenceWBF',
    'calibrated_wbf': 'CalibratedWBF',
}


def fusion_class(method: str) -> type:
    """The registered class of a command-line method name (or type name)."""
    key = method.strip().lower().replace('-', '_')
    type_name = METHOD_ALIASES.get(key)
    if type_name is None:
        by_type = {v.lower(): v for v in METHOD_ALIASES.values()}
        type_name = by_type.get(key)
    if type_name is None:
        raise ValueError(f'unknown fusion method {method!r}; choose from '
                         f'{", ".join(METHOD_ALIASES)}')
    return FUSION_METHODS.get(type_name)


def takes_option(method: str, option: str) -> bool:
    """Whether ``method`` (a command-line name) accepts the keyword ``option``."""
    return option in accepted_options(fusion_class(method))


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
    options = {k: v for k, v in options.items() if v is not None}
    accepted = accepted_options(FUSION_METHODS.get(type_name))
    extra = sorted(set(options) - accepted)
    if extra:
        raise ValueError(f'{method} does not take option(s) {extra}; it takes '
                         f'{sorted(accepted)}')
    return FUSION_METHODS.build(dict(type=type_name, **options))


def accepted_options(cls: type) -> set:
    """Keyword arguments of ``cls.__init__``, following ``**kwargs`` up the MRO."""
    names: set = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get('__init__')
        if init is None:
            continue
        params = inspect.signature(init).parameters.values()
        names.update(p.name for p in params
                     if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != 'self')
        if not any(p.kind == p.VAR_KEYWORD for p in params):
            break
    return names
