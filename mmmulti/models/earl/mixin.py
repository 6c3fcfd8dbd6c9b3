"""The mixin every ``EARL<Head>`` class starts from.

EARL trains a one-stage detector on fused boxes whose confidence ``c`` is the
readers' agreement: every loss term of a prior assigned to a gt box is
multiplied by that box's EARL weight, ``L = w * L_cls + w * beta * I(t) * L_loc``.
An ``EARL<Head>`` class is ``(family adapter, Head)``: the adapter
(one module per family, listed in :mod:`.adapters`) overrides the head's target/loss methods to find the gt of
every positive prior where the head already assigns, turns gt weights into
prior weights (:func:`.weights.earl_prior_weights`) and applies them. No module
is added, so ``state_dict`` keys of ``EARL<Head>`` and ``Head`` are identical.
"""
import inspect
from typing import List, Optional

import torch
from mmengine.structures import InstanceData
from torch import Tensor

from .options import EARLOptions, gt_earl_weights
from .weights import earl_prior_weights


# --------------------------------------------------------------------------
# The mixin shared by every family adapter
# --------------------------------------------------------------------------
class EARLHeadMixin:
    """State and helpers of an ``EARL<Head>``; family adapters build on it.

    An ``EARL<Head>`` is built like its head, with one more keyword argument,
    ``earl`` (the options); ``type='EARL'`` in a config builds it.

    Adapter API (the family modules listed in :mod:`mmmulti.models.earl.adapters`
    are five examples):
    :meth:`earl_start` opens a batch; while :attr:`earl_recording`, the
    adapter's ``_get_targets_single`` calls :meth:`earl_record` with the gt
    index of each prior (-1: not positive); :meth:`earl_finalize` returns the
    batch's per-prior weights (normalised); the adapter applies them to the
    head's target weights (AnchorHead family) or in its own override of the
    head's documented loss method (ATSS, FCOS, YOLOX).
    """

    earl_options: EARLOptions = EARLOptions()
    #: the decorated head class, set on each ``EARL<Head>`` class
    __earl_base__: type = None
    #: per-prior weights of the last batch's positive priors (after
    #: normalisation), for inspection and tests
    earl_last_pos_weights: Optional[Tensor] = None
    _earl_records: Optional[list] = None

    def __init__(self, *args, earl: Optional[dict] = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.set_earl_options(**EARLOptions.from_dict(earl).to_dict())

    def set_earl_options(self, **options) -> None:
        """Replace the options (``weight_mode``, ``terms``, ``normalize``)."""
        self.earl_options = EARLOptions.from_dict(options)
        self._earl_records = None
        self._earl_configure()

    def _earl_configure(self) -> None:
        """Hook: adapters that mirror the options into the head set them here."""

    def __reduce_ex__(self, protocol):
        # EARL<Head> classes are made per head class, so pickle cannot import
        # them by name: the builder that made the class (its ``__earl_new__``)
        # rebuilds it from the head class, then the state is set
        rebuild = type(self).__dict__.get('__earl_new__')
        if rebuild is None:
            return super().__reduce_ex__(protocol)
        return (rebuild, (type(self).__earl_base__, ), self.__getstate__())

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



def foreground(labels: Tensor, num_classes: int) -> Tensor:
    """Mask of the priors a head labelled with a class (mmdet's background
    label is ``num_classes``)."""
    return (labels >= 0) & (labels < num_classes)
