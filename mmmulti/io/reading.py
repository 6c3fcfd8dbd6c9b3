"""Reading a multi-reader (or fused, or single-truth) COCO file into a :class:`MultiReaderCoco`.

A multi-reader COCO file is a COCO detection file whose annotations name the
reader who drew them (``annotations[j][reader_key]``) and whose images may list
every reader who read them (``images[i].readers``; a listed reader with no box
on the image is an absent vote). Three kinds of file are accepted:

* ``multi_reader``: some annotation has the reader key or some image has
  ``readers`` (and the annotations are not fused); every box must then name
  its reader;
* ``fused``: output of truth inference, annotations carry ``confidence``
  (c, a fraction) and ``agreement`` (readers' count) and no reader; boxes get
  the reader id :data:`FUSED_READER`. Files written before the key was named
  ``confidence`` call it ``score``; it is read the same way;
* ``single_truth``: a clean COCO file with no reader information (test sets);
  every box gets the reader id :data:`SINGLE_TRUTH_READER` and every image the
  reader list ``[SINGLE_TRUTH_READER]``.

Structural faults (unknown ids, duplicates, missing reader, ids or sizes of
the wrong type, a file that is not UTF-8) raise ``ValueError`` naming the
file and the record. An exact duplicate box (same image, reader, category
and bbox) is dropped and counted: kept, it would let its reader vote twice.
Geometric faults are dropped and counted in a :class:`DropReport` (or raise
with ``strict_geometry=True``); a box partly outside its image is clipped and
counted as clipped, not dropped.
"""
from __future__ import annotations

import math
import os
from typing import Dict, List, Optional, Sequence, Union

import numpy as np

from mmmulti.structures import ImageReads

from .annotations import AnnotationBoxes, parse_annotations
from .fields import is_id, is_number, load_json_object, reader_id
from .parsed import (CONFIDENCE_KEY, FUSED_READER, LEGACY_CONFIDENCE_KEY,
                     SINGLE_TRUTH_READER, MultiReaderCoco)


def _check_records(data: dict, src: str) -> None:
    """The three lists exist and hold objects: before any field is read."""
    for key in ('images', 'annotations', 'categories'):
        if not isinstance(data.get(key), list):
            raise ValueError(f'{src}: missing or malformed "{key}" list')
        for k, rec in enumerate(data[key]):  # a null record
            if not isinstance(rec, dict):
                what = {'categories': 'category'}.get(key, key[:-1])
                raise ValueError(f'{src}: {what} record #{k} is {rec!r:.40}, not a JSON '
                                 'object')


def _parse_categories(raw_cats: list, src: str) -> tuple:
    """``(cat_ids, cat_index)``: ids in file order and id -> label index."""
    cat_ids: List[int] = []
    cat_index: Dict[int, int] = {}
    for k, cat in enumerate(raw_cats):
        if not isinstance(cat, dict) or 'id' not in cat:
            raise ValueError(f'{src}: category #{k} has no id')
        cid = cat['id']
        if not is_id(cid):
            raise ValueError(f'{src}: category #{k}: id {cid!r} must be an integer (int64)')
        if cid in cat_index:
            raise ValueError(f'{src}: duplicate category id {cid}')
        cat_index[cid] = len(cat_ids)
        cat_ids.append(cid)
    return cat_ids, cat_index


def _file_kind(raw_images: list, raw_anns: list, reader_key: str) -> str:
    """'multi_reader', 'fused' or 'single_truth' (see the module docstring)."""
    if any(reader_key in a for a in raw_anns):
        return 'multi_reader'
    if any(('agreement' in a or CONFIDENCE_KEY in a or LEGACY_CONFIDENCE_KEY in a)
           for a in raw_anns):
        return 'fused'
    if any('readers' in im for im in raw_images):
        return 'multi_reader'
    return 'single_truth'


def _parse_images(raw_images: list, kind: str, src: str) -> tuple:
    """``(images, img_index)``; each image gets ``readers`` and a ``_listed`` flag
    (False: its readers are to be filled from its boxes)."""
    images: List[dict] = []
    img_index: Dict[int, int] = {}
    for k, im in enumerate(raw_images):
        if not isinstance(im, dict) or 'id' not in im:
            raise ValueError(f'{src}: image #{k} has no id')
        iid = im['id']
        if not is_id(iid):
            raise ValueError(f'{src}: image #{k}: id {iid!r} must be an integer (int64)')
        if iid in img_index:
            raise ValueError(f'{src}: duplicate image id {iid}')
        bad = [f'{key} {im[key]!r}' for key in ('width', 'height')
               if im.get(key) is not None and not is_number(im[key])]
        if bad:
            raise ValueError(f'{src}: image {iid}: {" and ".join(bad)}: width and '
                             f'height must be JSON numbers')
        try:
            w, h = float(im['width']), float(im['height'])
        except (KeyError, TypeError, ValueError):
            raise ValueError(f'{src}: image {iid} has no width/height') from None
        if not (math.isfinite(w) and math.isfinite(h) and w > 0 and h > 0):
            raise ValueError(f'{src}: image {iid} has no valid width/height ({w} x {h})')
        name = im.get('file_name')
        if not isinstance(name, str) or not name.strip():  # was: named str(id)
            raise ValueError(f'{src}: image {iid}: ' + (
                'has no file_name' if name is None else f'file_name {name!r} is not a '
                'non-empty string') + ' (the image file its boxes belong to)')
        if 'readers' in im:
            rlist = im['readers']
            if not isinstance(rlist, list):
                raise ValueError(f'{src}: image {iid}: "readers" must be a list')
            rlist = [reader_id(r) for r in rlist]
            if any(r is None for r in rlist):
                raise ValueError(f'{src}: image {iid}: empty reader id in "readers"')
            if len(set(rlist)) != len(rlist):
                raise ValueError(f'{src}: image {iid}: duplicate reader in "readers" {rlist}')
            listed = True
        elif kind == 'single_truth':
            rlist, listed = [SINGLE_TRUTH_READER], True
        elif kind == 'fused':
            # a fused image without boxes is a negative of the fused truth
            rlist, listed = [FUSED_READER], True
        else:
            rlist, listed = [], False   # filled from the boxes below
        img = dict(im)
        img.update(id=iid, file_name=name, width=im['width'],
                   height=im['height'], readers=rlist)
        img['_listed'] = listed
        img_index[iid] = len(images)
        images.append(img)
    return images, img_index


def _reader_filter(readers: Optional[Sequence[str]], images: list, boxes: AnnotationBoxes,
                   src: str) -> Optional[set]:
    """The readers to keep (None: all); naming one found nowhere is an error."""
    if readers is None:
        return None
    keep = [str(r) for r in readers]
    known = set()
    for i, img in enumerate(images):
        known.update(img['readers'])
        known.update(boxes.drew[i])
    unknown = [r for r in keep if r not in known]
    if unknown:
        raise ValueError(f'{src}: reader(s) {unknown} not found '
                         f'(readers in the file: {sorted(known)})')
    return set(keep)


def load_multi_reader_coco(path_or_dict: Union[str, os.PathLike, dict],
                           reader_key: str = 'reader',
                           readers: Optional[Sequence[str]] = None,
                           strict_geometry: bool = False) -> MultiReaderCoco:
    """Parse a multi-reader (or fused, or clean single-truth) COCO file.

    Args:
        path_or_dict: a JSON file path or an already-loaded dict.
        reader_key: annotation key holding the reader id.
        readers: keep only these readers' boxes. Each image's reader list is
            intersected with them (in the image's order); an image read by
            none of them keeps an empty reader list and no boxes (R = 0; the
            fusion methods return no boxes for it). Naming a reader found
            nowhere in the file is an error (it is most likely a typo).
        strict_geometry: raise on a geometric fault instead of dropping and
            counting the box.

    Returns:
        MultiReaderCoco with boxes as absolute xyxy (clipped to the image).
        An image without ``readers`` gets the sorted readers of its
        annotations, dropped ones included (a reader whose only box was
        dropped still read the image: an absent vote, not a missing reader).
    """
    data, src = load_json_object(path_or_dict)
    _check_records(data, src)
    raw_images, raw_anns, raw_cats = data['images'], data['annotations'], data['categories']
    cat_ids, cat_index = _parse_categories(raw_cats, src)
    kind = _file_kind(raw_images, raw_anns, reader_key)
    images, img_index = _parse_images(raw_images, kind, src)
    boxes, drops = parse_annotations(raw_anns, kind, images, img_index, cat_index,
                                      reader_key, strict_geometry, src)
    keep = _reader_filter(readers, images, boxes, src)

    reads: List[ImageReads] = []
    ann_ids: List[np.ndarray] = []
    confidences: List[np.ndarray] = []
    agreements: List[np.ndarray] = []
    for i, img in enumerate(images):
        listed = img.pop('_listed')
        if not listed:
            img['readers'] = sorted(boxes.drew[i])
        sel = np.arange(len(boxes.boxes[i]))
        if keep is not None:
            img['readers'] = [r for r in img['readers'] if r in keep]
            sel = np.array([j for j, r in enumerate(boxes.readers[i]) if r in keep],
                           dtype=np.int64)
        reads.append(ImageReads(
            boxes=np.asarray(boxes.boxes[i], dtype=np.float64).reshape(-1, 4)[sel],
            labels=np.asarray(boxes.labels[i], dtype=np.int64)[sel],
            readers=np.asarray(boxes.readers[i], dtype=object)[sel],
            image_readers=list(img['readers']),
            width=float(img['width']), height=float(img['height'])))
        ann_ids.append(np.asarray(boxes.ids[i], dtype=np.int64)[sel])
        confidences.append(np.asarray(boxes.conf[i], dtype=np.float32)[sel])
        agreements.append(np.asarray(boxes.agree[i], dtype=np.int64)[sel])

    info = data.get('info') if isinstance(data.get('info'), dict) else {}
    return MultiReaderCoco(source=src, kind=kind, images=images, categories=list(raw_cats),
                           cat_ids=cat_ids, reads=reads, ann_ids=ann_ids,
                           confidences=confidences, agreements=agreements, drops=drops,
                           reader_key=reader_key, info=dict(info))


__all__ = ['load_multi_reader_coco']
