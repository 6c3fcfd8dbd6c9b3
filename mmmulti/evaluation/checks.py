"""Strict checks of the files that scoring reads: ground truth and COCO results.

pycocotools indexes whatever it is given: a NaN box, an annotation of an
unknown image or category, a string ``category_id`` or ``bbox: "1234"``
(read as four characters) all score without a word, and the mAP is wrong.
Each check raises ``ValueError`` naming the file and the record.
"""
from __future__ import annotations

import json
import math
from numbers import Integral, Real
from typing import Any, Mapping

# JSON integers beyond int64 overflow numpy and pycocotools' indexes
INT64_MAX = 2 ** 63 - 1


def read_json(path: str) -> Any:
    """``json.load`` of ``path``; a file that is not JSON (truncated, empty) or
    not UTF-8 is a ``ValueError`` naming the file and where it breaks."""
    try:
        with open(path, 'rb') as f:
            text = f.read().decode('utf-8-sig')
    except UnicodeDecodeError as e:
        raise ValueError(f'{path}: not UTF-8 text (byte {e.object[e.start]:#04x} at '
                         f'offset {e.start})') from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f'{path}: not valid JSON ({e.msg}: line {e.lineno}, column '
                         f'{e.colno})') from None


def is_int(value: Any) -> bool:
    """A JSON integer that fits int64 (``True`` and ``"2"`` are not)."""
    return (isinstance(value, Integral) and not isinstance(value, bool)
            and abs(int(value)) <= INT64_MAX)


def is_number(value: Any) -> bool:
    """A finite JSON number (not a bool, not a string)."""
    return (isinstance(value, Real) and not isinstance(value, bool)
            and math.isfinite(float(value)))


def check_id(value: Any, what: str, where: str) -> int:
    if not is_int(value):
        kind = 'a string' if isinstance(value, str) else repr(value)
        raise ValueError(f'{where}: {what} must be an integer (a JSON number within '
                         f'int64), got {kind}{" " + repr(value) if isinstance(value, str) else ""}')
    return int(value)


def check_xywh(bbox: Any, where: str) -> list:
    """``[x, y, w, h]``: four finite numbers, w and h >= 0."""
    if (not isinstance(bbox, (list, tuple)) or len(bbox) != 4
            or not all(is_number(v) for v in bbox)):
        raise ValueError(f'{where}: bbox must be [x, y, w, h], four finite numbers, '
                         f'got {bbox!r}')
    box = [float(v) for v in bbox]
    if box[2] < 0 or box[3] < 0:
        raise ValueError(f'{where}: negative width or height in xywh bbox {box}')
    return box


def check_gt_dataset(dataset: Any, source: str) -> None:
    """Every image, category and annotation record of a ground-truth COCO dict.

    An annotation without ``area`` or ``iscrowd`` gets the box's ``w * h`` and
    0 (in place), which pycocotools needs; anything else wrong is an error.
    """
    if not isinstance(dataset, Mapping):
        raise ValueError(f'{source}: top level must be a JSON object')
    for key in ('images', 'categories'):
        if not isinstance(dataset.get(key), list):
            raise ValueError(f'{source}: no "{key}" list')
    anns = dataset.get('annotations', [])
    if not isinstance(anns, list):
        raise ValueError(f'{source}: "annotations" must be a list')
    images, cats = set(), set()
    for k, im in enumerate(dataset['images']):
        where = f'{source}: image record {k}'
        if not isinstance(im, Mapping):
            raise ValueError(f'{where}: not an object, got {im!r}')
        iid = check_id(im.get('id'), 'id', where)
        if iid in images:
            raise ValueError(f'{where}: duplicate image id {iid}')
        images.add(iid)
        for key in ('width', 'height'):
            if key in im and not (is_number(im[key]) and im[key] > 0):
                raise ValueError(f'{where} (image {iid}): {key} must be a finite number '
                                 f'> 0, got {im[key]!r}')
    for k, cat in enumerate(dataset['categories']):
        where = f'{source}: category record {k}'
        if not isinstance(cat, Mapping):
            raise ValueError(f'{where}: not an object, got {cat!r}')
        cid = check_id(cat.get('id'), 'id', where)
        if not isinstance(cat.get('name'), str) or not cat['name']:
            raise ValueError(f'{where} (category {cid}): name must be a non-empty string, '
                             f'got {cat.get("name")!r}')
        if cid in cats:
            raise ValueError(f'{where}: duplicate category id {cid}')
        cats.add(cid)
    for k, ann in enumerate(anns):
        where = f'{source}: annotation record {k}'
        if not isinstance(ann, Mapping):
            raise ValueError(f'{where}: not an object, got {ann!r}')
        check_id(ann.get('id'), 'id', where)  # pycocotools indexes annotations by id
        iid = check_id(ann.get('image_id'), 'image_id', where)
        if iid not in images:
            raise ValueError(f'{where}: image_id {iid} is not an image of the file')
        cid = check_id(ann.get('category_id'), 'category_id', where)
        if cid not in cats:
            raise ValueError(f'{where} (image {iid}): category_id {cid} is not a category '
                             'of the file')
        box = check_xywh(ann.get('bbox'), f'{where} (image {iid})')
        # what pycocotools needs and hand-made files often leave out: the box's
        # area and "not a crowd", as COCO defines them for a box
        ann.setdefault('area', box[2] * box[3])
        ann.setdefault('iscrowd', 0)
        # pycocotools compares area with its size ranges and reads iscrowd as a flag
        if 'area' in ann and not (is_number(ann['area']) and ann['area'] >= 0):
            raise ValueError(f'{where} (image {iid}): area must be a finite number >= 0, '
                             f'got {ann["area"]!r}')
        crowd = ann.get('iscrowd', 0)
        if not is_int(crowd) or crowd not in (0, 1):
            raise ValueError(f'{where} (image {iid}): iscrowd must be 0 or 1, '
                             f'got {ann["iscrowd"]!r}')


__all__ = ['read_json', 'is_int', 'is_number', 'check_id', 'check_xywh',
           'check_gt_dataset', 'INT64_MAX']
