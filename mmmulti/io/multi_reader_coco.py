"""Reading and writing multi-reader COCO files.

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
and bbox) is dropped and counted: kept, it would let its reader vote twice. Geometric faults are dropped and
counted in a :class:`DropReport` (or raise with ``strict_geometry=True``); a
box partly outside its image is clipped and counted as clipped, not dropped.
"""
from __future__ import annotations

import json
import math
import os
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Union

import numpy as np

from mmmulti.structures import FusedBoxes, ImageReads
from mmmulti.utils.atomic import dump_json_atomic

SINGLE_TRUTH_READER = 'truth'
FUSED_READER = 'fused'
#: annotation key of a fused box's confidence c (``score`` in files of earlier versions)
CONFIDENCE_KEY = 'confidence'
LEGACY_CONFIDENCE_KEY = 'score'

#: Reasons a box is dropped, in the order they are checked.
DROP_REASONS = ('nan', 'x2<x1', 'y2<y1', 'zero_area', 'out_of_image', 'iscrowd',
                'duplicate')


@dataclass
class DropReport:
    """Boxes dropped while loading, counted per reason, with a few examples.

    ``clipped`` counts boxes partly outside their image that were clipped to
    it (kept, not dropped).
    """

    counts: Dict[str, int] = field(
        default_factory=lambda: OrderedDict((r, 0) for r in DROP_REASONS))
    examples: Dict[str, List[str]] = field(
        default_factory=lambda: OrderedDict((r, []) for r in DROP_REASONS))
    clipped: int = 0
    clipped_examples: List[str] = field(default_factory=list)
    max_examples: int = 5

    def add(self, reason: str, record: str) -> None:
        self.counts[reason] = self.counts.get(reason, 0) + 1
        ex = self.examples.setdefault(reason, [])
        if len(ex) < self.max_examples:
            ex.append(record)

    def add_clipped(self, record: str) -> None:
        self.clipped += 1
        if len(self.clipped_examples) < self.max_examples:
            self.clipped_examples.append(record)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def as_dict(self) -> dict:
        return dict(dropped=dict(self.counts), clipped=self.clipped)

    def __str__(self) -> str:
        lines = [f'dropped boxes: {self.total}']
        for reason, n in self.counts.items():
            if n:
                lines.append(f'  {reason:<13s} {n:>7d}   e.g. '
                             + '; '.join(self.examples.get(reason, [])[:3]))
        lines.append(f'clipped to the image (kept): {self.clipped}')
        if self.clipped:
            lines.append('  e.g. ' + '; '.join(self.clipped_examples[:3]))
        return '\n'.join(lines)


@dataclass
class MultiReaderCoco:
    """A parsed multi-reader COCO file.

    ``images[i]``, ``reads[i]``, ``ann_ids[i]``, ``confidences[i]`` and
    ``agreements[i]`` describe the same image; the last four are aligned box
    by box. Labels are indices into ``cat_ids`` (the order of ``categories``
    in the file).
    """

    source: str
    kind: str                                  # 'multi_reader' | 'fused' | 'single_truth'
    images: List[dict]                         # id, file_name, width, height, readers (+extra)
    categories: List[dict]
    cat_ids: List[int]
    reads: List[ImageReads]
    ann_ids: List[np.ndarray]                  # (N,) int64 annotation id per box
    confidences: List[np.ndarray]              # (N,) float32, 'confidence' or 1.0
    agreements: List[np.ndarray]               # (N,) int64, 'agreement' or 1
    drops: DropReport
    reader_key: str = 'reader'
    info: dict = field(default_factory=dict)

    @property
    def readers(self) -> List[str]:
        """Every reader id met in the file, sorted."""
        found = set()
        for img in self.images:
            found.update(img['readers'])
        for r in self.reads:
            found.update(r.readers.tolist())
        return sorted(found)

    @property
    def num_boxes(self) -> int:
        return int(sum(len(r) for r in self.reads))

    @property
    def class_names(self) -> List[str]:
        return [c.get('name', str(c['id'])) for c in self.categories]

    def __len__(self) -> int:
        return len(self.images)


def _load_json(path_or_dict: Union[str, os.PathLike, dict]) -> tuple:
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


def _is_id(value, allow_str: bool = True) -> bool:
    """COCO ids are ints (image and category ids may also be strings); a
    list or float id would crash later in a set, a dict or an int64 array,
    and so would an int beyond int64 (2**70: OverflowError)."""
    if isinstance(value, bool):
        return False
    return ((isinstance(value, int) and -2 ** 63 <= value < 2 ** 63)
            or (allow_str and isinstance(value, str)))


def _is_size(value) -> bool:
    """Width/height must be JSON numbers: a string "64" would reach mmdet's
    transforms and break arithmetic there, far from the file."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _reader_id(value) -> Optional[str]:
    if value is None:
        return None
    value = str(value)
    return value if value != '' else None


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
    data, src = _load_json(path_or_dict)
    for key in ('images', 'annotations', 'categories'):
        if not isinstance(data.get(key), list):
            raise ValueError(f'{src}: missing or malformed "{key}" list')
        for k, rec in enumerate(data[key]):  # a null record: before any field is read
            if not isinstance(rec, dict):
                what = {'categories': 'category'}.get(key, key[:-1])
                raise ValueError(f'{src}: {what} record #{k} is {rec!r:.40}, not a JSON '
                                 'object')
    raw_images, raw_anns, raw_cats = data['images'], data['annotations'], data['categories']

    # categories --------------------------------------------------------------
    cat_ids: List[int] = []
    cat_index: Dict[int, int] = {}
    for k, cat in enumerate(raw_cats):
        if not isinstance(cat, dict) or 'id' not in cat:
            raise ValueError(f'{src}: category #{k} has no id')
        cid = cat['id']
        if not _is_id(cid):
            raise ValueError(f'{src}: category #{k}: id {cid!r} must be an integer (int64)')
        if cid in cat_index:
            raise ValueError(f'{src}: duplicate category id {cid}')
        cat_index[cid] = len(cat_ids)
        cat_ids.append(cid)

    # kind of file ------------------------------------------------------------
    has_reader_key = any(reader_key in a for a in raw_anns)
    has_fused_keys = any(('agreement' in a or CONFIDENCE_KEY in a or LEGACY_CONFIDENCE_KEY in a)
                         for a in raw_anns)
    has_image_readers = any('readers' in im for im in raw_images)
    if has_reader_key:
        kind = 'multi_reader'
    elif has_fused_keys:
        kind = 'fused'
    elif has_image_readers:
        kind = 'multi_reader'
    else:
        kind = 'single_truth'

    # images ------------------------------------------------------------------
    images: List[dict] = []
    img_index: Dict[int, int] = {}
    for k, im in enumerate(raw_images):
        if not isinstance(im, dict) or 'id' not in im:
            raise ValueError(f'{src}: image #{k} has no id')
        iid = im['id']
        if not _is_id(iid):
            raise ValueError(f'{src}: image #{k}: id {iid!r} must be an integer (int64)')
        if iid in img_index:
            raise ValueError(f'{src}: duplicate image id {iid}')
        bad = [f'{key} {im[key]!r}' for key in ('width', 'height')
               if im.get(key) is not None and not _is_size(im[key])]
        if bad:
            raise ValueError(f'{src}: image {iid}: {" and ".join(bad)}: width and '
                             f'height must be JSON numbers')
        try:
            w, h = float(im['width']), float(im['height'])
        except (KeyError, TypeError, ValueError):
            raise ValueError(f'{src}: image {iid} has no width/height') from None
        if not (math.isfinite(w) and math.isfinite(h) and w > 0 and h > 0):
            raise ValueError(f'{src}: image {iid} has no valid width/height ({w} x {h})')
        if 'readers' in im:
            rlist = im['readers']
            if not isinstance(rlist, list):
                raise ValueError(f'{src}: image {iid}: "readers" must be a list')
            rlist = [_reader_id(r) for r in rlist]
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
        img.update(id=iid, file_name=im.get('file_name', str(iid)), width=im['width'],
                   height=im['height'], readers=rlist)
        img['_listed'] = listed
        img_index[iid] = len(images)
        images.append(img)

    # annotations -------------------------------------------------------------
    n_img = len(images)
    per_boxes: List[list] = [[] for _ in range(n_img)]
    per_labels: List[list] = [[] for _ in range(n_img)]
    per_readers: List[list] = [[] for _ in range(n_img)]
    per_ids: List[list] = [[] for _ in range(n_img)]
    per_conf: List[list] = [[] for _ in range(n_img)]
    per_agree: List[list] = [[] for _ in range(n_img)]
    # readers of every box, dropped ones included: a reader whose only box was
    # dropped still read the image (its vote becomes an absent vote).
    drew: List[set] = [set() for _ in range(n_img)]
    seen_ids = set()
    first_of: Dict[tuple, int] = {}   # (image, reader, category, bbox) -> annotation id
    drops = DropReport()

    def geometric(reason: str, record: str) -> None:
        if strict_geometry:
            raise ValueError(f'{record}: {reason}')
        drops.add(reason, record)

    for k, ann in enumerate(raw_anns):
        if not isinstance(ann, dict) or 'id' not in ann:
            raise ValueError(f'{src}: annotation #{k} has no id')
        aid = ann['id']
        iid = ann.get('image_id')
        if not _is_id(aid, allow_str=False):
            raise ValueError(f'{src}: annotation #{k} (image {iid!r}): id {aid!r} must be '
                             f'an integer (int64)')
        rec = f'{src}: annotation id {aid} (image {iid})'
        if not _is_id(iid):
            raise ValueError(f'{rec}: image_id {iid!r} must be an integer (int64)')
        if aid in seen_ids:
            raise ValueError(f'{rec}: duplicate annotation id {aid}')
        seen_ids.add(aid)
        if iid not in img_index:
            raise ValueError(f'{rec}: refers to unknown image id {iid}')
        cid = ann.get('category_id')
        if not _is_id(cid):
            raise ValueError(f'{rec}: category_id {cid!r} must be an integer (int64)')
        if cid not in cat_index:
            raise ValueError(f'{rec}: unknown category id {cid}')
        i = img_index[iid]
        img = images[i]
        # reader
        if kind == 'multi_reader':
            reader = _reader_id(ann.get(reader_key))
            if reader is None:
                raise ValueError(f'{rec}: missing reader id ("{reader_key}")')
            if img['_listed'] and reader not in img['readers']:
                raise ValueError(f'{rec}: reader {reader!r} is not in the image\'s '
                                 f'readers {img["readers"]}')
        elif kind == 'fused':
            reader = FUSED_READER
        else:
            reader = SINGLE_TRUTH_READER
        drew[i].add(reader)
        # confidence / agreement
        conf, agree = 1.0, 1
        conf_key = CONFIDENCE_KEY if CONFIDENCE_KEY in ann else LEGACY_CONFIDENCE_KEY
        if kind == 'fused' or conf_key in ann or 'agreement' in ann:
            if kind == 'fused' and (conf_key not in ann or 'agreement' not in ann):
                raise ValueError(f'{rec}: fused file but no "{CONFIDENCE_KEY}"/"agreement"')
            try:
                conf = float(ann.get(conf_key, 1.0))
                agree = ann.get('agreement', 1)
            except (TypeError, ValueError):
                raise ValueError(f'{rec}: malformed {conf_key} {ann.get(conf_key)!r}') from None
            if not (math.isfinite(conf) and 0.0 < conf <= 1.0):
                raise ValueError(f'{rec}: {conf_key} {conf} outside (0, 1]')
            if not isinstance(agree, int) or isinstance(agree, bool) or agree < 1:
                raise ValueError(f'{rec}: agreement {agree!r} must be an int >= 1')
        # geometry
        bbox = ann.get('bbox')
        if not isinstance(bbox, (list, tuple)) or len(bbox) != 4:
            raise ValueError(f'{rec}: bbox must be [x, y, w, h], got {bbox!r}')
        try:
            x, y, bw, bh = (float(v) for v in bbox)
        except (TypeError, ValueError):
            raise ValueError(f'{rec}: bbox must be numbers, got {bbox!r}') from None
        if ann.get('iscrowd', 0):
            geometric('iscrowd', rec)
            continue
        if not all(math.isfinite(v) for v in (x, y, bw, bh)):
            geometric('nan', rec)
            continue
        if bw < 0:
            geometric('x2<x1', rec)
            continue
        if bh < 0:
            geometric('y2<y1', rec)
            continue
        if bw == 0 or bh == 0:
            geometric('zero_area', rec)
            continue
        W, H = float(img['width']), float(img['height'])
        x1, y1, x2, y2 = x, y, x + bw, y + bh
        cx1, cy1 = min(max(x1, 0.0), W), min(max(y1, 0.0), H)
        cx2, cy2 = min(max(x2, 0.0), W), min(max(y2, 0.0), H)
        if cx2 <= cx1 or cy2 <= cy1:
            geometric('out_of_image', rec)
            continue
        twin = (i, reader, cid, x, y, bw, bh)
        if twin in first_of:
            drops.add('duplicate', f'{rec}: same box as annotation id {first_of[twin]}')
            continue
        first_of[twin] = aid
        if (cx1, cy1, cx2, cy2) != (x1, y1, x2, y2):
            drops.add_clipped(rec)
        per_boxes[i].append((cx1, cy1, cx2, cy2))
        per_labels[i].append(cat_index[cid])
        per_readers[i].append(reader)
        per_ids[i].append(aid)
        per_conf[i].append(conf)
        per_agree[i].append(agree)

    # readers filter and per-image reads -----------------------------------------
    keep = None
    if readers is not None:
        keep = [str(r) for r in readers]
        known = set()
        for i, img in enumerate(images):
            known.update(img['readers'])
            known.update(drew[i])
        unknown = [r for r in keep if r not in known]
        if unknown:
            raise ValueError(f'{src}: reader(s) {unknown} not found '
                             f'(readers in the file: {sorted(known)})')
        keep = set(keep)

    reads: List[ImageReads] = []
    ann_ids: List[np.ndarray] = []
    confidences: List[np.ndarray] = []
    agreements: List[np.ndarray] = []
    for i, img in enumerate(images):
        listed = img.pop('_listed')
        if not listed:
            img['readers'] = sorted(drew[i])
        sel = np.arange(len(per_boxes[i]))
        if keep is not None:
            img['readers'] = [r for r in img['readers'] if r in keep]
            sel = np.array([j for j, r in enumerate(per_readers[i]) if r in keep],
                           dtype=np.int64)
        boxes = np.asarray(per_boxes[i], dtype=np.float64).reshape(-1, 4)[sel]
        reads.append(ImageReads(
            boxes=boxes,
            labels=np.asarray(per_labels[i], dtype=np.int64)[sel],
            readers=np.asarray(per_readers[i], dtype=object)[sel],
            image_readers=list(img['readers']),
            width=float(img['width']), height=float(img['height'])))
        ann_ids.append(np.asarray(per_ids[i], dtype=np.int64)[sel])
        confidences.append(np.asarray(per_conf[i], dtype=np.float32)[sel])
        agreements.append(np.asarray(per_agree[i], dtype=np.int64)[sel])

    info = data.get('info') if isinstance(data.get('info'), dict) else {}
    return MultiReaderCoco(source=src, kind=kind, images=images, categories=list(raw_cats),
                           cat_ids=cat_ids, reads=reads, ann_ids=ann_ids,
                           confidences=confidences, agreements=agreements, drops=drops,
                           reader_key=reader_key, info=dict(info))


def fused_to_coco(src: MultiReaderCoco, fused: Sequence[FusedBoxes],
                  method_info: dict) -> dict:
    """The fused COCO dict (see :func:`dump_fused_coco`)."""
    if len(fused) != len(src.images):
        raise ValueError(f'{len(fused)} fused results for {len(src.images)} images')
    anns = []
    next_id = 1
    for img, fb in zip(src.images, fused):
        for box, label, conf, agree in zip(fb.boxes.tolist(), fb.labels.tolist(),
                                           fb.confidences.tolist(), fb.agreement.tolist()):
            x1, y1, x2, y2 = box
            w, h = x2 - x1, y2 - y1
            anns.append(dict(id=next_id, image_id=img['id'],
                             category_id=src.cat_ids[label],
                             bbox=[x1, y1, w, h], area=w * h, iscrowd=0,
                             confidence=conf, agreement=int(agree)))
            next_id += 1
    info = dict(src.info)
    info['fusion'] = dict(method_info, source=src.source,
                          input_boxes=src.num_boxes, input_drops=src.drops.as_dict())
    return dict(info=info, images=[dict(im) for im in src.images],
                categories=list(src.categories), annotations=anns)


def dump_fused_coco(src: MultiReaderCoco, fused: Sequence[FusedBoxes],
                    out_path: Union[str, os.PathLike], method_info: dict) -> dict:
    """Write the fused truth as COCO json.

    Annotations carry ``bbox`` (xywh), ``category_id``, ``area``, ``iscrowd`` 0,
    ``confidence`` (c, the readers' agreement as a fraction) and ``agreement``
    (the readers' count) -- no ``score``, so it cannot pass for a COCO results
    file; images keep
    their ``readers``; ``info.fusion`` holds ``method_info`` plus the source
    file and the input drop counts. Returns the written dict.
    """
    out = fused_to_coco(src, fused, method_info)
    out_path = os.fspath(out_path)
    d = os.path.dirname(out_path)
    if d:
        os.makedirs(d, exist_ok=True)
    dump_json_atomic(out, out_path)
    return out
