"""Annotation records of a COCO file -> the kept boxes of each image, and the drops.

Each record is checked field by field (ids, category, reader, fused
confidence, geometry); a structural fault raises naming the file and the
annotation, a geometric one is dropped and counted (see :mod:`.drops`).
"""
from __future__ import annotations

import math
from typing import Dict, List

from .drops import DropReport
from .fields import is_id, is_number, reader_id
from .parsed import CONFIDENCE_KEY, FUSED_READER, LEGACY_CONFIDENCE_KEY, SINGLE_TRUTH_READER


class AnnotationBoxes:
    """The kept boxes of every image, field by field, as the annotations are read."""

    def __init__(self, n_img: int):
        self.boxes: List[list] = [[] for _ in range(n_img)]
        self.labels: List[list] = [[] for _ in range(n_img)]
        self.readers: List[list] = [[] for _ in range(n_img)]
        self.ids: List[list] = [[] for _ in range(n_img)]
        self.conf: List[list] = [[] for _ in range(n_img)]
        self.agree: List[list] = [[] for _ in range(n_img)]
        # readers of every box, dropped ones included: a reader whose only box was
        # dropped still read the image (its vote becomes an absent vote).
        self.drew: List[set] = [set() for _ in range(n_img)]

    def add(self, i: int, xyxy: tuple, label: int, reader: str, aid: int, conf: float,
            agree: int) -> None:
        self.boxes[i].append(xyxy)
        self.labels[i].append(label)
        self.readers[i].append(reader)
        self.ids[i].append(aid)
        self.conf[i].append(conf)
        self.agree[i].append(agree)


def _confidence(ann: dict, kind: str, rec: str) -> tuple:
    """``(confidence, agreement)`` of a fused box; (1.0, 1) for a reader's box."""
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
    return conf, agree


def parse_annotations(raw_anns: list, kind: str, images: list, img_index: dict,
                       cat_index: dict, reader_key: str, strict_geometry: bool,
                       src: str) -> tuple:
    """``(boxes, drops)``: the kept boxes per image and what was left out."""
    out = AnnotationBoxes(len(images))
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
        if not is_id(aid, allow_str=False):
            raise ValueError(f'{src}: annotation #{k} (image {iid!r}): id {aid!r} must be '
                             f'an integer (int64)')
        rec = f'{src}: annotation id {aid} (image {iid})'
        if not is_id(iid):
            raise ValueError(f'{rec}: image_id {iid!r} must be an integer (int64)')
        if aid in seen_ids:
            raise ValueError(f'{rec}: duplicate annotation id {aid}')
        seen_ids.add(aid)
        if iid not in img_index:
            raise ValueError(f'{rec}: refers to unknown image id {iid}')
        cid = ann.get('category_id')
        if not is_id(cid):
            raise ValueError(f'{rec}: category_id {cid!r} must be an integer (int64)')
        if cid not in cat_index:
            raise ValueError(f'{rec}: unknown category id {cid}')
        i = img_index[iid]
        img = images[i]
        if kind == 'multi_reader':
            reader = reader_id(ann.get(reader_key))
            if reader is None:
                raise ValueError(f'{rec}: missing reader id ("{reader_key}")')
            if img['_listed'] and reader not in img['readers']:
                raise ValueError(f'{rec}: reader {reader!r} is not in the image\'s '
                                 f'readers {img["readers"]}')
        elif kind == 'fused':
            reader = FUSED_READER
        else:
            reader = SINGLE_TRUTH_READER
        out.drew[i].add(reader)
        conf, agree = _confidence(ann, kind, rec)
        # geometry
        bbox = ann.get('bbox')
        if not isinstance(bbox, (list, tuple)) or len(bbox) != 4:
            raise ValueError(f'{rec}: bbox must be [x, y, w, h], got {bbox!r}')
        if not all(is_number(v) for v in bbox):  # [true, ...] is no 1x1 box
            raise ValueError(f'{rec}: bbox must be four JSON numbers, got {bbox!r}')
        x, y, bw, bh = (float(v) for v in bbox)
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
        out.add(i, (cx1, cy1, cx2, cy2), cat_index[cid], reader, aid, conf, agree)
    return out, drops


__all__ = ['AnnotationBoxes', 'parse_annotations']
