"""EARL's options and the weight of each gt box (the paper's Eq. 2).

``weight_mode``: ``'fraction'`` (default) -- ``w = c = gt_instances.confidences``,
the agreement fraction ``min(n, R) / R``; ``'count'`` -- ``w =
gt_instances.agreements`` (readers' count 1..R), what the public reference code
did. ``terms``: the loss terms of a positive prior that get ``w``, a subset of
``{'cls', 'box', 'obj'}`` (``'obj'``: objectness or centerness, whatever the
head has). ``normalize``: ``None`` (raw weights) or ``'mean'`` (divide every
positive prior's weight by the batch's mean positive weight, so the loss scale
matches the unweighted head).
"""
from typing import FrozenSet, Iterable, Optional

import torch
from mmengine.structures import InstanceData
from torch import Tensor

WEIGHT_MODES = ('fraction', 'count')
EARL_TERMS = ('cls', 'box', 'obj')
NORMALIZE_MODES = (None, 'mean')
#: gt_instances field read by each weight mode
WEIGHT_FIELDS = {'fraction': 'confidences', 'count': 'agreements'}


class EARLOptions:
    """Validated EARL options (see the module docstring)."""

    __slots__ = ('weight_mode', 'terms', 'normalize')

    def __init__(self,
                 weight_mode: str = 'fraction',
                 terms: Iterable[str] = EARL_TERMS,
                 normalize: Optional[str] = None) -> None:
        if weight_mode not in WEIGHT_MODES:
            raise ValueError(f'EARL: weight_mode must be one of {WEIGHT_MODES}, '
                             f'got {weight_mode!r}')
        if isinstance(terms, str):
            terms = (terms, )
        terms = frozenset(terms)
        bad = sorted(terms - set(EARL_TERMS))
        if bad:
            raise ValueError(f'EARL: unknown terms {bad}; terms is a subset of '
                             f'{EARL_TERMS}')
        if normalize not in NORMALIZE_MODES:
            raise ValueError(f'EARL: normalize must be one of {NORMALIZE_MODES}, '
                             f'got {normalize!r}')
        self.weight_mode: str = weight_mode
        self.terms: FrozenSet[str] = terms
        self.normalize: Optional[str] = normalize

    @classmethod
    def from_dict(cls, options: Optional[dict]) -> 'EARLOptions':
        if isinstance(options, EARLOptions):
            return options
        options = dict(options or {})
        unknown = sorted(set(options) - set(cls.__slots__))
        if unknown:
            raise TypeError(f'EARL: unknown option(s) {unknown}; known: '
                            f'{list(cls.__slots__)}')
        return cls(**options)

    def to_dict(self) -> dict:
        return dict(weight_mode=self.weight_mode,
                    terms=tuple(t for t in EARL_TERMS if t in self.terms),
                    normalize=self.normalize)

    def __repr__(self) -> str:
        return 'EARLOptions(' + ', '.join(f'{k}={v!r}' for k, v in self.to_dict().items()) + ')'


def gt_earl_weights(gt_instances: InstanceData, weight_mode: str = 'fraction') -> Tensor:
    """EARL weight of each gt box of one image, float (num_gts, ).

    ``'fraction'`` reads ``gt_instances.confidences`` (c), ``'count'`` reads
    ``gt_instances.agreements``; a missing field means weight 1.
    """
    field = WEIGHT_FIELDS[weight_mode]
    num_gts = len(gt_instances)
    device = gt_instances.labels.device if 'labels' in gt_instances else None
    if field not in gt_instances:
        return torch.ones(num_gts, device=device)
    w = torch.as_tensor(gt_instances.get(field), device=device).float()
    if w.shape != (num_gts, ):
        raise ValueError(f'EARL: gt_instances.{field} has shape {tuple(w.shape)} but the '
                         f'image has {num_gts} gt boxes; the weights fell out of '
                         'alignment with the boxes (a transform dropped boxes only)')
    if num_gts and not bool(((w >= 0) & torch.isfinite(w)).all()):
        raise ValueError(f'EARL: gt_instances.{field} must be finite and >= 0, got '
                         f'{w.tolist()}')
    return w
