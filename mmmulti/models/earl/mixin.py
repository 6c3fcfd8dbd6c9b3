"""The mixin every ``EARL<Head>`` class starts from, and the loss proxies.

EARL trains a one-stage detector on fused boxes whose confidence ``c`` is the
readers' agreement: every loss term of a prior assigned to a gt box is
multiplied by that box's EARL weight, ``L = w * L_cls + w * beta * I(t) * L_loc``.
An ``EARL<Head>`` class is ``(family adapter, Head)``: the adapter
(:mod:`.adapters`) overrides the head's target/loss methods to find the gt of
every positive prior where the head already assigns, turns gt weights into
prior weights (:func:`.weights.earl_prior_weights`) and applies them. No module
is added, so ``state_dict`` keys of ``EARL<Head>`` and ``Head`` are identical.
"""
import inspect
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn
from mmengine.structures import InstanceData
from torch import Tensor

from .options import EARL_TERMS, EARLOptions, gt_earl_weights
from .weights import earl_prior_weights


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

    An ``EARL<Head>`` is built like its head, with one more keyword argument,
    ``earl`` (the options); ``type='EARL'`` in a config builds it.

    Adapter API (see :mod:`mmmulti.models.earl.adapters` for five examples):
    :meth:`earl_start` opens a batch; while :attr:`earl_recording`, the
    adapter's ``_get_targets_single`` calls :meth:`earl_record` with the gt
    index of each prior (-1: not positive); :meth:`earl_finalize` returns the
    batch's per-prior weights (normalised); the adapter applies them to the
    head's target weights, or queues them with :meth:`earl_push` for loss
    modules wrapped by :meth:`earl_loss_with_proxies` (set ``_earl_loss_attrs``).
    """

    earl_options: EARLOptions = EARLOptions()
    #: the decorated head class, set on each ``EARL<Head>`` class
    __earl_base__: type = None
    #: per-prior weights of the last batch's positive priors (after
    #: normalisation), for inspection and tests
    earl_last_pos_weights: Optional[Tensor] = None
    _earl_records: Optional[list] = None
    _earl_proxies: Optional[Dict[str, EARLWeightedLoss]] = None
    #: term -> loss attributes that a proxy wraps during loss_by_feat
    _earl_loss_attrs: Dict[str, Tuple[str, ...]] = {}

    def __init__(self, *args, earl: Optional[dict] = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.set_earl_options(**EARLOptions.from_dict(earl).to_dict())

    def set_earl_options(self, **options) -> None:
        """Replace the options (``weight_mode``, ``terms``, ``normalize``)."""
        self.earl_options = EARLOptions.from_dict(options)
        self._earl_records = None
        self._earl_proxies = None
        self._earl_configure()

    def _earl_configure(self) -> None:
        """Hook: adapters that mirror the options into the head set them here."""

    def __reduce_ex__(self, protocol):
        # EARL<Head> classes are made per head class, so pickle cannot import
        # them by name: rebuild the class from the head class, then the state
        return (_new_earl_head, (type(self).__earl_base__, ), self.__getstate__())

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

    def earl_trains_class_shares(self) -> bool:
        """Whether this adapter trains on the readers' class shares (``SoftWBF``
        data); an adapter that does not refuses such data in :meth:`earl_record`
        rather than train on the majority class silently."""
        return False

    def earl_record(self, gt_instances: InstanceData, prior_gt: Tensor) -> None:
        """Record one image: ``prior_gt`` is the gt index of each prior, -1 if
        the prior is not positive."""
        if 'class_shares' in gt_instances and not self.earl_trains_class_shares():
            raise TypeError(
                f'EARL<{self.earl_plain_type.__name__}> does not train on class shares '
                '(SoftWBF-fused boxes); YOLOv5Head and sigmoid AnchorHead-family heads '
                'that keep its loss do')
        self._earl_records.append(dict(gt_weights=self.earl_gt_weights(gt_instances),
                                       prior_gt=prior_gt))

    def earl_start(self) -> None:
        self._earl_records = []

    def earl_finalize(self, num_imgs: int) -> List[dict]:
        """The batch's per-image ``weights`` (per prior) and ``pos`` masks,
        from :func:`~mmmulti.models.earl.weights.earl_prior_weights`; stops
        recording."""
        records, self._earl_records = self._earl_records, None
        if records is None or len(records) != num_imgs:
            got = 'none' if records is None else len(records)
            raise RuntimeError(f'EARL<{self.earl_plain_type.__name__}>: recorded targets '
                               f'of {got} images for a batch of {num_imgs}: the head '
                               'did not compute its targets the way the adapter expects')
        # one index space for the batch: image i's gts follow image i-1's
        offsets, total = [], 0
        for r in records:
            offsets.append(total)
            total += r['gt_weights'].numel()
        device = records[0]['prior_gt'].device if records else None
        gt_weights = (torch.cat([r['gt_weights'].to(device) for r in records]) if records
                      else torch.zeros(0))
        prior_gt = [torch.where(r['prior_gt'] >= 0, r['prior_gt'] + off, r['prior_gt'])
                    for r, off in zip(records, offsets)]
        weights, pos_w = earl_prior_weights(gt_weights, prior_gt,
                                            self.earl_options.normalize)
        self.earl_last_pos_weights = pos_w.detach()
        return [dict(weights=w, pos=idx >= 0) for w, idx in zip(weights, prior_gt)]

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


def _new_earl_head(head_cls: type) -> nn.Module:
    """An empty ``EARL<head_cls>`` instance for unpickling (state set after)."""
    from .builder import earl_class
    cls = earl_class(head_cls)
    return cls.__new__(cls)
