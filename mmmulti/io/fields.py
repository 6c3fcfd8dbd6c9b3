"""Checks of single JSON values of a COCO file: the file itself, ids, sizes, readers.

One place for "what a valid value is", so that a bad value is refused where
the file is read, naming the file and the record, and not far away in numpy
or mmdet.
"""
from __future__ import annotations

import json
import os
from typing import Optional, Union


def load_json_object(path_or_dict: Union[str, os.PathLike, dict]) -> tuple:
    """``(data, name)``: the top-level JSON object of a UTF-8 file (or a dict as is)."""
    if isinstance(path_or_dict, dict):
        return path_or_dict, '<dict>'
    path = os.fspath(path_or_dict)
    with open(path, 'rb') as f:
        raw = f.read()
    try:
        text = raw.decode('utf-8-sig')
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b'\n') + 1
        raise ValueError(f'{path}: line {line}: not UTF-8 text (byte '
                         f'0x{raw[e.start]:02x} at offset {e.start}); JSON files '
                         f'must be UTF-8') from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f'{path}: not valid JSON ({e})') from e
    if not isinstance(data, dict):
        raise ValueError(f'{path}: top level must be a JSON object')
    return data, os.path.basename(path)


def is_id(value, allow_str: bool = True) -> bool:
    """COCO ids are ints (image and category ids may also be strings); a
    list or float id would crash later in a set, a dict or an int64 array,
    and so would an int beyond int64 (2**70: OverflowError)."""
    if isinstance(value, bool):
        return False
    return ((isinstance(value, int) and -2 ** 63 <= value < 2 ** 63)
            or (allow_str and isinstance(value, str)))


def is_number(value) -> bool:
    """A JSON number: not a bool (``true`` is no coordinate, though Python reads
    it as 1) and not a string (a width "64" would reach mmdet's transforms and
    break arithmetic there, far from the file). NaN and infinity pass: the
    callers name them in errors of their own. Scoring files use the stricter
    ``mmmulti.evaluation.checks.is_number`` (finite only)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def reader_id(value) -> Optional[str]:
    """A reader id as a string; None for a missing or empty one."""
    if value is None:
        return None
    value = str(value)
    return value if value != '' else None


__all__ = ['load_json_object', 'is_id', 'is_number', 'reader_id']
