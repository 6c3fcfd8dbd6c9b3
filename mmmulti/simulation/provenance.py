"""What a MED-MNIST folder was generated with, and whether a run asks for the same.

The protocol reuses a data folder that is already there (generating the paper's
scale takes minutes). Without a record of the settings, a scale whose ``data``
changed (more images, another preset or proficiency) would train and score on
the old folder and report the numbers as if they were the new data's.
:func:`make_med_mnist` writes :func:`generation_record` of its arguments into
``readers.json``; :func:`generation_mismatch` compares a folder with a request.

This module depends on nothing above it: the generator declares itself with
:func:`records_settings` (its signature holds the settings and their defaults),
so the record needs no import of :mod:`.med_mnist`.
"""
from __future__ import annotations

import inspect
import json
from typing import Callable, List, Optional

from .layout import default_digit_sizes, parse_count_range
from .profiles import build_profiles

#: make_med_mnist arguments that do not change what is generated
_NOT_DATA = ('out_dir', 'progress', 'mnist_dir')
#: the generator whose keyword arguments are the settings (set by records_settings)
_GENERATOR: List[Callable] = []


def records_settings(generator: Callable) -> Callable:
    """Decorator: ``generator``'s signature (``make_med_mnist``'s) names the
    settings a record holds and their defaults."""
    _GENERATOR[:] = [generator]
    return generator


def generation_record(**kwargs) -> dict:
    """``make_med_mnist``'s data arguments with its defaults filled in, as JSON values.

    Derived settings are resolved (digit sizes from the image size, reader profiles
    from the preset), so that two requests that generate the same data compare equal.
    """
    if not _GENERATOR:
        raise RuntimeError('no MED-MNIST generator declared its settings '
                           '(import mmmulti.simulation first)')
    try:
        bound = inspect.signature(_GENERATOR[0]).bind_partial(**kwargs)
    except TypeError as e:
        raise ValueError(f'MED-MNIST settings {sorted(kwargs)}: {e}') from None
    bound.apply_defaults()
    args = {k: v for k, v in bound.arguments.items() if k not in _NOT_DATA}
    lo, hi = parse_count_range(args.pop('digits_per_image'))
    dmin, dmax = default_digit_sizes(int(args['img_size']))
    min_size = int(args.pop('min_digit_size') or dmin)
    max_size = int(args.pop('max_digit_size') or max(dmax, min_size))
    profiles = build_profiles(args.pop('reader_profiles'), args['preset'],
                              args['proficiency'], args['num_readers'])
    record = dict(args, digits_per_image=[lo, hi], min_digit_size=min_size,
                  max_digit_size=max_size, reader_profiles=[p.to_dict() for p in profiles])
    return json.loads(json.dumps(record))  # tuples as lists, as the file reads back


def generation_mismatch(readers_json: str, requested: dict) -> Optional[List[str]]:
    """The settings in which the folder of ``readers_json`` differs from ``requested``
    (``make_med_mnist`` keyword arguments), one line each; ``[]`` when they match,
    ``None`` when the folder has no record (made before records were written)."""
    with open(readers_json) as f:
        recorded = json.load(f).get('generation')
    if recorded is None:
        return None
    wanted = generation_record(**requested)
    lines = []
    for key in sorted(wanted):  # the folder may record more (its digit source)
        have, want = recorded.get(key), wanted.get(key)
        if have == want:
            continue
        if key == 'reader_profiles':
            lines.append('reader_profiles: differ (the folder\'s are in its readers.json)')
        else:
            lines.append(f'{key}: {have!r} in the folder, {want!r} asked')
    return lines


__all__ = ['generation_record', 'generation_mismatch', 'records_settings']
