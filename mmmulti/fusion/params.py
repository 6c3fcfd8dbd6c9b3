"""Range checks of the fusion methods' parameters, shared by every method.

A threshold or weight out of range does not fail on its own: an IoU
threshold of 1.5 merges nothing, a weight of ``inf`` gives NaN boxes that
end up as ``NaN`` in a JSON file, a skip threshold above 1 drops every box.
Each constructor (and each tool, before any work) calls these, so a bad
value is one clear error naming the parameter.
"""
from __future__ import annotations

import math
from numbers import Real
from typing import Iterable, Mapping, Optional, Sequence

# Weights are relative; far above any sensible ratio, and far enough from
# the float range that sums and products of weights, scores and coordinates
# (ensemble_boxes multiplies them) cannot overflow to inf.
MAX_WEIGHT = 1e6


def _number(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (Real, str)):
        raise ValueError(f'{name} must be a number, got {value!r}')
    try:
        return float(value)
    except ValueError:
        raise ValueError(f'{name} must be a number, got {value!r}') from None


def check_iou_thr(value, name: str = 'iou_thr', allow_zero: bool = False,
                  allow_one: bool = True) -> float:
    """``value`` as a float in (0, 1] (bounds set by ``allow_zero``/``allow_one``).

    NaN and infinities are refused. Returns the float.
    """
    v = _number(value, name)
    low_ok = v >= 0.0 if allow_zero else v > 0.0
    high_ok = v <= 1.0 if allow_one else v < 1.0
    if not (math.isfinite(v) and low_ok and high_ok):
        interval = f'{"[" if allow_zero else "("}0, 1{"]" if allow_one else ")"}'
        raise ValueError(f'{name} must be in {interval}, got {value!r}')
    return v


def check_unit_interval(value, name: str) -> float:
    """``value`` as a float in [0, 1] (a score threshold); NaN refused."""
    v = _number(value, name)
    if not (math.isfinite(v) and 0.0 <= v <= 1.0):
        raise ValueError(f'{name} must be in [0, 1], got {value!r}')
    return v


def check_weight(value, name: str) -> float:
    """One weight: finite, > 0 and at most :data:`MAX_WEIGHT`."""
    v = _number(value, name)
    if not (math.isfinite(v) and 0.0 < v <= MAX_WEIGHT):
        raise ValueError(f'{name} must be a finite number in (0, {MAX_WEIGHT:g}], '
                         f'got {value!r}')
    return v


def check_reader_weights(weights: Optional[Mapping[str, object]],
                         name: str = 'reader_weights') -> Optional[dict]:
    """``{reader: weight}`` with every weight checked by :func:`check_weight`."""
    if not weights:
        return None
    return {str(r): check_weight(w, f'{name}[{r!r}]') for r, w in weights.items()}


def check_weight_list(weights: Optional[Sequence[object]], count: int,
                      name: str = '--weights') -> Optional[list]:
    """One weight per input (``count``), each by :func:`check_weight`."""
    if weights is None:
        return None
    weights = list(weights)
    if len(weights) != count:
        raise ValueError(f'{name}: {len(weights)} weights for {count} inputs')
    return [check_weight(w, f'{name} #{k + 1}') for k, w in enumerate(weights)]


def check_known_readers(method, readers: Iterable[str], source: str = '') -> None:
    """Refuse a method that names a reader the data does not have.

    A weight for a reader not in the file, or ``single_reader`` of an unknown
    reader, would otherwise be ignored (0 boxes, weights unchanged) without a
    word; a typo in a reader id must be an error, as ``--readers R9`` is.
    """
    known = [str(r) for r in readers]
    where = f'{source}: ' if source else ''
    reader = getattr(method, 'reader', None)
    if isinstance(reader, str) and reader not in known:
        raise ValueError(f'{where}reader {reader!r} is not in the file (readers: '
                         f'{", ".join(known[:20])}{" ..." if len(known) > 20 else ""})')
    weights = getattr(method, 'reader_weights', None) or {}
    unknown = sorted(set(map(str, weights)) - set(known))
    if unknown:
        raise ValueError(f'{where}reader weight(s) for {unknown}, not readers of the file '
                         f'(readers: {", ".join(known[:20])}'
                         f'{" ..." if len(known) > 20 else ""})')


__all__ = ['check_iou_thr', 'check_unit_interval', 'check_weight', 'check_reader_weights',
           'check_weight_list', 'check_known_readers', 'MAX_WEIGHT']
