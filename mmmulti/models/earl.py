"""EARL, the Experts Agreement Re-weighted Loss, as a decorator of mmdet dense heads.

EARL trains a one-stage detector on fused boxes whose confidence ``c`` is the
readers' agreement: every loss term of a prior assigned to a gt box is
multiplied by that box's EARL weight, ``L = w * L_cls + w * beta * I(t) * L_loc``.

No head class is edited. ``apply_earl(head)`` (or ``type='EARL'`` in a config)
swaps the built head's ``__class__`` for a cached subclass ``EARL<Head>`` that
mixes in a per-family adapter (see :mod:`mmmulti.models.earl_adapters`). The
adapter finds the gt of every positive prior where the head already assigns
(nothing is assigned twice), turns gt weights into per-prior weights for the
whole batch, and applies them where the head computes its losses. The module
tree is untouched, so ``state_dict`` keys of ``EARL<Head>`` and ``Head`` are
identical and checkpoints interchange.

Options (``earl=dict(...)`` in a config, keyword arguments of ``apply_earl``):

- ``weight_mode``: ``'fraction'`` (default) -- ``w = c = gt_instances.confidences``,
  the agreement fraction ``min(n, R) / R``: **the paper's formula (Eq. 2)**;
  ``'count'`` -- ``w = gt_instances.agreements`` (readers' count 1..R), what the
  public reference code did.
- ``terms``: which loss terms of a positive prior get ``w``, a subset of
  ``{'cls', 'box', 'obj'}`` (``'obj'``: objectness or centerness, whatever the
  head has; ignored by heads that have neither). Default all three. The paper's
  formula names cls and loc; the reference code did not weight objectness:
  ``terms=('cls', 'box')`` with ``weight_mode='count'`` reproduces it.
- ``normalize``: ``None`` (default, raw weights) or ``'mean'``: divide every
  positive prior's weight by the batch's mean positive-prior weight, so the loss
  scale matches the unweighted head (per process under distributed training).

Negative priors always keep weight 1. A gt without ``confidences`` /
``agreements`` (a plain data set) has weight 1, and a head whose weights are
all 1 computes exactly the plain head's losses.
"""
import inspect
from typing import Dict, FrozenSet, Iterable, List, Optional, Tuple

import torch
import torch.nn as nn
from mmengine.structures import InstanceData
from torch import Tensor

from mmmulti.registry import MODELS

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


# --------------------------------------------------------------------------
# Loss proxies: pass per-sample weights to a head's loss module.
# --------------------------------------------------------------------------
#: losses whose per-element loss is one value per box (they reduce the last
#: dim themselves): they take a (n, ) weight, never (n, 1)
_ROW_LOSS_NAMES = ('IoULoss', 'GIoULoss', 'DIoULoss', 'CIoULoss', 'EIoULoss',
                   'SIoULoss', 'BoundedIoULoss')


class EARLWeightedLoss(nn.Module):
    """Stands in for one loss module of a head during one ``loss_by_feat``.

    Each call pops the next queued per-sample weight vector (one value per row
    of ``pred``) and passes it as ``weight`` (multiplied into the head's own
    weight when the head gives one). The adapter queues exactly the calls the
    head will make; a row-count mismatch, a call with nothing queued or a
    queue left over is an error, never a silent misweighting.
    """

    def __init__(self, loss: nn.Module, attr: str, head_name: str) -> None:
        super().__init__()
        self.loss = loss
        self._attr = attr
        self._head_name = head_name
        self._queue: List[Tensor] = []
        self._prepare = None  # callable run before the first call, once

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self._modules['loss'], name)

    def push(self, weight: Tensor) -> None:
        self._queue.append(weight)

    def _where(self) -> str:
        return f'EARL<{self._head_name}>.{self._attr}'

    def forward(self, pred: Tensor, target: Tensor, weight: Optional[Tensor] = None,
                *args, **kwargs) -> Tensor:
        if self._prepare is not None:
            prepare, self._prepare = self._prepare, None
            prepare()
        if not self._queue:
            raise RuntimeError(f'{self._where()} was called more often than the EARL '
                               'adapter expected: the head\'s loss_by_feat differs from '
                               'the one the adapter was written for')
        w = self._queue.pop(0)
        n = pred.shape[0]
        if w.shape != (n, ):
            raise RuntimeError(f'{self._where()}: EARL weights have shape '
                               f'{tuple(w.shape)}, the loss input has {n} rows')
        w = w.to(pred.dtype)
        if weight is not None:
            if weight.shape[0] != n:
                raise RuntimeError(f'{self._where()}: head weight has {weight.shape[0]} '
                                   f'rows, the loss input {n}')
            weight = weight * w.view(-1, *([1] * (weight.dim() - 1)))
        elif (pred.dim() == 1 or target.dim() < pred.dim()
              or type(self.loss).__name__ in _ROW_LOSS_NAMES):
            weight = w  # one loss value per row (class-index target, IoU, 1-D)
        else:
            weight = w.view(-1, *([1] * (pred.dim() - 1)))  # broadcast over columns
        return self.loss(pred, target, weight, *args, **kwargs)


# --------------------------------------------------------------------------
# The mixin shared by every family adapter
# --------------------------------------------------------------------------
class EARLHeadMixin:
    """State and helpers of an ``EARL<Head>``; family adapters build on it.

    Adapter API (see :mod:`mmmulti.models.earl_adapters` for five examples):
    :meth:`earl_start` opens a batch; while :attr:`earl_recording`, the
    adapter's ``_get_targets_single`` calls :meth:`earl_record` with the gt
    index of each prior (-1: not positive); :meth:`earl_finalize` returns the
    batch's per-prior weights (normalised); the adapter applies them to the
    head's target weights, or queues them with :meth:`earl_push` for loss
    modules wrapped by :meth:`earl_loss_with_proxies` (set ``_earl_loss_attrs``).
    """

    earl_options: EARLOptions = EARLOptions()
    #: per-prior weights of the last batch's positive priors (after
    #: normalisation), for inspection and tests
    earl_last_pos_weights: Optional[Tensor] = None
    _earl_records: Optional[list] = None
    _earl_proxies: Optional[Dict[str, EARLWeightedLoss]] = None
    #: term -> loss attributes that a proxy wraps during loss_by_feat
    _earl_loss_attrs: Dict[str, Tuple[str, ...]] = {}

    @property
    def earl_recording(self) -> bool:
        """True between :meth:`earl_start` and :meth:`earl_finalize`."""
        return self._earl_records is not None

    @property
    def earl_plain_type(self) -> type:
        """The decorated head class (``RetinaHead`` for ``EARL<RetinaHead>``)."""
        return type(self).__earl_base__

    def earl_gt_weights(self, gt_instances: InstanceData) -> Tensor:
        """EARL weight per gt box of one image (by ``weight_mode``)."""
        return gt_earl_weights(gt_instances, self.earl_options.weight_mode)

    # -- recording -------------------------------------------------------
    def earl_bound_args(self, method_name: str, args: tuple,
                        kwargs: dict) -> inspect.BoundArguments:
        """Bind a call of the base class's ``method_name`` to its parameter names."""
        cache = type(self).__dict__.get('_earl_signatures')
        if cache is None:
            cache = {}
            type(self)._earl_signatures = cache
        sig = cache.get(method_name)
        if sig is None:
            sig = inspect.signature(getattr(type(self).__earl_base__, method_name))
            cache[method_name] = sig
        return sig.bind(self, *args, **kwargs)

    def earl_record(self, gt_instances: InstanceData, prior_gt: Tensor, **extra) -> None:
        """Record one image: ``prior_gt`` is the gt index of each prior, -1 if
        the prior is not positive."""
        w_gt = self.earl_gt_weights(gt_instances).to(prior_gt.device)
        pos = prior_gt >= 0
        if w_gt.numel():
            w = torch.where(pos, w_gt[prior_gt.clamp(min=0)], w_gt.new_ones(()))
        else:
            w = torch.ones(prior_gt.shape, device=prior_gt.device)
        self._earl_records.append(dict(weights=w, pos=pos, **extra))

    def earl_start(self) -> None:
        self._earl_records = []

    def earl_finalize(self, num_imgs: int) -> List[dict]:
        """The batch's records, weights normalised; stops recording."""
        records, self._earl_records = self._earl_records, None
        if records is None or len(records) != num_imgs:
            got = 'none' if records is None else len(records)
            raise RuntimeError(f'EARL<{self.earl_plain_type.__name__}>: recorded targets '
                               f'of {got} images for a batch of {num_imgs}: the head '
                               'did not compute its targets the way the adapter expects')
        pos_w = torch.cat([r['weights'][r['pos']] for r in records])
        if self.earl_options.normalize == 'mean' and pos_w.numel():
            mean = pos_w.mean()
            if bool(mean > 0):
                for r in records:
                    r['weights'] = torch.where(r['pos'], r['weights'] / mean, r['weights'])
                pos_w = pos_w / mean
        self.earl_last_pos_weights = pos_w.detach()
        return records

    # -- loss proxies ----------------------------------------------------
    def _earl_install_proxies(self) -> Dict[str, EARLWeightedLoss]:
        proxies = {}
        for term in EARL_TERMS:
            if term not in self.earl_options.terms:
                continue
            for attr in self._earl_loss_attrs.get(term, ()):
                loss = self._modules.get(attr)
                if loss is None:
                    continue
                # built once per loss module and kept outside the module tree
                cache = self.__dict__.setdefault('_earl_proxy_cache', {})
                proxy = cache.get(attr)
                if proxy is None or proxy.loss is not loss:
                    proxy = EARLWeightedLoss(loss, attr, self.earl_plain_type.__name__)
                    cache[attr] = proxy
                proxy._queue.clear()
                proxy._prepare = None
                proxies[attr] = proxy
        for attr, proxy in proxies.items():
            self._modules[attr] = proxy
        self._earl_proxies = proxies
        return proxies

    def _earl_remove_proxies(self, check: bool) -> None:
        proxies, self._earl_proxies = self._earl_proxies or {}, None
        for attr, proxy in proxies.items():
            self._modules[attr] = proxy.loss
        if check:
            left = [f'{a} ({len(p._queue)} call(s))' for a, p in proxies.items() if p._queue]
            if left:
                raise RuntimeError(f'EARL<{self.earl_plain_type.__name__}>: the head did '
                                   f'not call {", ".join(left)} as the adapter expected')

    def earl_push(self, attr: str, weight: Tensor) -> None:
        """Queue ``weight`` for the next call of loss ``attr`` (if it is wrapped)."""
        proxy = (self._earl_proxies or {}).get(attr)
        if proxy is not None:
            proxy.push(weight)

    def earl_loss_with_proxies(self, loss_by_feat, *args, earl_prepare=None,
                                **kwargs) -> dict:
        """Run ``loss_by_feat`` with the loss modules of the enabled terms
        wrapped; ``earl_prepare`` runs once, before the first wrapped call."""
        proxies = self._earl_install_proxies()
        if earl_prepare is not None:
            done = []

            def prepare_once():
                if not done:
                    done.append(True)
                    earl_prepare()

            for proxy in proxies.values():
                proxy._prepare = prepare_once
        ok = False
        try:
            losses = loss_by_feat(*args, **kwargs)
            ok = True
        finally:
            self._earl_records = None
            self._earl_remove_proxies(check=ok)
        return losses


# --------------------------------------------------------------------------
# Adapter table, decoration, config builder
# --------------------------------------------------------------------------
_ADAPTERS: List[Tuple[object, type]] = []
_EARL_CLASSES: Dict[type, type] = {}


def register_earl_adapter(matches, mixin: type, *, first: bool = True) -> None:
    """Teach EARL a head family.

    Args:
        matches: a head class (its subclasses match) or a predicate
            ``f(head_cls) -> bool``.
        mixin: a subclass of :class:`EARLHeadMixin` overriding the head's
            target/loss methods (call ``super()``); it must not add modules.
        first: try it before the built-in adapters (default).
    """
    if not (isinstance(mixin, type) and issubclass(mixin, EARLHeadMixin)):
        raise TypeError(f'EARL adapter {mixin!r} must subclass EARLHeadMixin')
    if isinstance(matches, type):
        base = matches
        matches = lambda cls, base=base: issubclass(cls, base)  # noqa: E731
    entry = (matches, mixin)
    if first:
        _ADAPTERS.insert(0, entry)
    else:
        _ADAPTERS.append(entry)
    _EARL_CLASSES.clear()


def find_earl_adapter(head_cls: type) -> type:
    """The adapter mixin for ``head_cls``; TypeError when none fits."""
    for matches, mixin in _ADAPTERS:
        if matches(head_cls):
            return mixin
    from .earl_adapters import SUPPORTED
    raise TypeError(
        f'EARL: no adapter for {head_cls.__name__}. Supported: {SUPPORTED}. A head that '
        'subclasses one of these and keeps its target and loss methods works as is; '
        'otherwise register an adapter with mmmulti.models.register_earl_adapter')


def earl_class(head_cls: type) -> type:
    """The cached ``EARL<head_cls>`` class."""
    if getattr(head_cls, '__earl_base__', None) is not None:
        return head_cls
    cls = _EARL_CLASSES.get(head_cls)
    if cls is None:
        mixin = find_earl_adapter(head_cls)
        qualname = f'EARL_{head_cls.__name__}'
        cls = type(f'EARL<{head_cls.__name__}>', (mixin, head_cls),
                   dict(__module__=__name__, __qualname__=qualname,
                        __earl_base__=head_cls, __doc__=f'{head_cls.__name__} with EARL '
                        f'({mixin.__name__}).'))
        _EARL_CLASSES[head_cls] = cls
        globals()[qualname] = cls  # lets pickle find it
    return cls


def __getattr__(name: str):
    """``EARL_<Head>`` classes for unpickling in a fresh process."""
    if name.startswith('EARL_'):
        head_cls = MODELS.get(name[len('EARL_'):])
        if head_cls is not None:
            return earl_class(head_cls)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


def apply_earl(head: nn.Module, **options) -> nn.Module:
    """Decorate a built dense head with EARL in place and return it.

    ``options``: ``weight_mode``, ``terms``, ``normalize`` (module docstring).
    Applying it again to an EARL head replaces its options.
    """
    opts = EARLOptions.from_dict(options)
    plain = getattr(type(head), '__earl_base__', None) or type(head)
    head.__class__ = earl_class(plain)
    head.earl_options = opts
    head._earl_records = None
    head._earl_proxies = None
    configure = getattr(head, '_earl_configure', None)
    if configure is not None:
        configure()
    return head


def strip_earl(head: nn.Module) -> nn.Module:
    """Undo :func:`apply_earl` in place (the plain head class back)."""
    plain = getattr(type(head), '__earl_base__', None)
    if plain is not None:
        unconfigure = getattr(head, '_earl_unconfigure', None)
        if unconfigure is not None:
            unconfigure()
        head.__class__ = plain
        for attr in ('earl_options', '_earl_records', '_earl_proxies',
                     '_earl_proxy_cache', 'earl_last_pos_weights'):
            head.__dict__.pop(attr, None)
    return head


def build_earl_head(head_type: str, earl: Optional[dict] = None, **head_kwargs) -> nn.Module:
    """Config builder ``type='EARL'``: build ``dict(type=head_type, **head_kwargs)``
    and decorate it with EARL ``options=earl``."""
    if not isinstance(head_type, str) and not isinstance(head_type, type):
        raise TypeError(f'EARL: head_type must be a registered head name, got {head_type!r}')
    if head_type in ('EARL', 'mmmulti.EARL'):
        raise ValueError('EARL: head_type must be the head to decorate, not EARL itself')
    options = EARLOptions.from_dict(earl).to_dict()  # validate before building
    head = MODELS.build(dict(type=head_type, **head_kwargs))
    return apply_earl(head, **options)


MODELS.register_module(name='EARL', module=build_earl_head)

# the built-in family adapters register themselves
from . import earl_adapters  # noqa: E402,F401
