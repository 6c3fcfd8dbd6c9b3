"""Parsing a VinDr-CXR / VinBigData annotation CSV into its images and readers' boxes.

The CSV has one row per box (``image_id, class_name, class_id, rad_id,
x_min, y_min, x_max, y_max`` and optionally ``width, height``). A row of
class 14 "No finding" (empty coordinates) says that its ``rad_id`` read the
image and drew nothing: that reader is listed in the image's ``readers`` with
no box (an absent vote, see docs/internals.md).

Errors name the CSV file and line (header = line 1). The CSV may start with
a UTF-8 byte order mark; coordinates written as ``nan`` (pandas' export of an
empty cell) count as empty.
"""
from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass, field
from typing import Optional, Sequence

from .vindr_summary import ConversionSummary

VINDR_CLASSES = (
    'Aortic enlargement', 'Atelectasis', 'Calcification', 'Cardiomegaly',
    'Consolidation', 'ILD', 'Infiltration', 'Lung Opacity', 'Nodule/Mass',
    'Other lesion', 'Pleural effusion', 'Pleural thickening', 'Pneumothorax',
    'Pulmonary fibrosis')
NO_FINDING = 'No finding'
NO_FINDING_ID = 14
_NAME_TO_ID = {n.lower(): k for k, n in enumerate(VINDR_CLASSES + (NO_FINDING,))}
_COORDS = ('x_min', 'y_min', 'x_max', 'y_max')
#: a cell's number as a person or pandas writes it; Python's float() would also
#: take '1_00' (100), 'infinity' or '١٠٠' and read a typo as a value
_NUMBER = re.compile(r'[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?')


class VinDrFormatError(ValueError):
    """A CSV row or file the converter cannot interpret."""


def _number(text: str) -> float:
    """A cell as a float, only when it is written as a plain decimal number."""
    if not _NUMBER.fullmatch(text):
        raise ValueError(f'{text!r} is not a decimal number')
    return float(text)


@dataclass
class ReaderBox:
    """One reader's box: absolute xyxy in the current pixel frame."""

    reader: Optional[str]
    class_id: int
    xyxy: list
    line: int


@dataclass
class VinDrImage:
    """All reads of one image."""

    image_id: str
    readers: set = field(default_factory=set)
    boxes: list = field(default_factory=list)
    csv_size: Optional[tuple] = None
    size: Optional[tuple] = None       # (width, height) of the frame the boxes live in
    source: Optional[str] = None       # image file found in --images
    file_name: Optional[str] = None


def _parse_class(row: dict, where: str) -> Optional[int]:
    """VinDr class id of a row (None: unknown class), name and id cross-checked."""
    raw_id = (row.get('class_id') or '').strip()
    raw_name = (row.get('class_name') or '').strip()
    cid = None
    if raw_id:
        try:
            value = _number(raw_id)
        except ValueError:
            raise VinDrFormatError(f'{where}: class_id {raw_id!r} is not a number') from None
        if not value.is_integer() or not 0 <= value <= NO_FINDING_ID:
            return None
        cid = int(value)
    if raw_name:
        by_name = _NAME_TO_ID.get(raw_name.lower())
        if by_name is None:
            return None
        if cid is not None and cid != by_name:
            raise VinDrFormatError(f'{where}: class_name {raw_name!r} is class {by_name}, '
                                   f'but class_id is {cid}')
        cid = by_name
    if cid is None:
        raise VinDrFormatError(f'{where}: neither class_id nor class_name given')
    return cid


def _parse_coords(row: dict, where: str) -> Optional[list]:
    """xyxy floats; None when all four are empty; error when partly missing or NaN.

    ``nan`` is read as empty: pandas writes an empty "No finding" cell so.
    """
    raw = [(row.get(k) or '').strip() for k in _COORDS]
    raw = ['' if v.lower() == 'nan' else v for v in raw]
    if not any(raw):
        return None
    vals = []
    for k, v in zip(_COORDS, raw):
        try:
            f = _number(v)
        except ValueError:
            f = math.nan
        if not math.isfinite(f):
            raise VinDrFormatError(f'{where}: {k} is {v!r}, a finding row needs four numbers')
        vals.append(f)
    return vals


def _parse_size(row: dict, where: str) -> Optional[tuple]:
    w, h = (row.get('width') or '').strip(), (row.get('height') or '').strip()
    if not w and not h:
        return None
    try:
        fw, fh = _number(w), _number(h)
    except ValueError:
        raise VinDrFormatError(f'{where}: width/height {w!r}/{h!r} are not numbers') from None
    if not (fw.is_integer() and fh.is_integer()):  # 1000.9 is no pixel count
        raise VinDrFormatError(f'{where}: width/height {w!r}/{h!r} must be whole numbers '
                               'of pixels')
    size = (int(fw), int(fh))
    if size[0] <= 0 or size[1] <= 0:
        raise VinDrFormatError(f'{where}: width/height {size} must be positive')
    return size


def read_vindr_csv(csv_path: str, readers: Optional[Sequence[str]] = None,
                   consensus: bool = False, drop_unknown_classes: bool = False,
                   summary: Optional[ConversionSummary] = None) -> dict:
    """Parse the CSV into ``{image_id: VinDrImage}`` (sorted by image_id).

    ``readers`` keeps only those rad_ids' rows (others counted). ``consensus``
    reads a single-truth CSV (rad_id absent or one value throughout).
    """
    summary = summary if summary is not None else ConversionSummary(csv_path)
    keep = set(readers) if readers else None
    images: dict[str, VinDrImage] = {}
    consensus_ids: set = set()
    seen: set = set()  # images met only in rows of readers not selected
    with open(csv_path, 'rb') as f:
        raw = f.read()
    try:
        text = raw.decode('utf-8-sig')   # VinDr's CSVs may start with a BOM
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b'\n') + 1
        raise VinDrFormatError(f'{csv_path}: line {line}: not UTF-8 text (byte '
                               f'0x{raw[e.start]:02x} at offset {e.start})') from None
    first_row: dict = {}   # (image, reader, class, coords) -> first line
    no_finding_by: set = set()   # (image, reader) with a "No finding" row
    with io.StringIO(text, newline='') as f:
        reader = csv.DictReader(f)
        if reader.fieldnames is None:
            raise VinDrFormatError(f'{csv_path}: empty file, expected a header row')
        reader.fieldnames = [n.strip().lower() for n in reader.fieldnames]
        twice = sorted({n for n in reader.fieldnames if n and reader.fieldnames.count(n) > 1})
        if twice:  # csv.DictReader would silently keep the last one's value
            raise VinDrFormatError(f'{csv_path}: line 1: column(s) {twice} appear more than '
                                   f'once in the header {reader.fieldnames}')
        cols = set(reader.fieldnames)
        need = {'image_id', *_COORDS} | (set() if consensus else {'rad_id'})
        missing = sorted(need - cols)
        if not {'class_id', 'class_name'} & cols:
            missing.append('class_id or class_name')
        if missing:
            raise VinDrFormatError(f'{csv_path}: missing columns {missing} '
                                   f'(found {reader.fieldnames})')
        for row in reader:
            summary.rows += 1
            where = f'{csv_path}: line {reader.line_num}'
            image_id = (row.get('image_id') or '').strip()
            if not image_id:
                raise VinDrFormatError(f'{where}: empty image_id')
            where += f' (image {image_id})'
            rad = (row.get('rad_id') or '').strip()
            if consensus:
                consensus_ids.add(rad)
                if len(consensus_ids) > 1:
                    raise VinDrFormatError(
                        f'{where}: a consensus (--test) CSV has one rad_id, found '
                        f'{sorted(consensus_ids)}; convert it as a multi-reader file')
                rad = None
            elif not rad:
                raise VinDrFormatError(f'{where}: missing rad_id')
            elif keep is not None and rad not in keep:
                summary.rows_other_readers += 1
                seen.add(image_id)
                continue
            img = images.setdefault(image_id, VinDrImage(image_id))
            if rad is not None:  # a reader of the image, whatever the row holds
                img.readers.add(rad)
            cid = _parse_class(row, where)
            if cid is None:
                if drop_unknown_classes:
                    summary.dropped_unknown_class += 1
                    continue
                raise VinDrFormatError(
                    f'{where}: unknown class (class_id {row.get("class_id")!r}, class_name '
                    f'{row.get("class_name")!r}); VinDr-CXR has ids 0..13 and 14 '
                    f'"{NO_FINDING}"')
            coords = _parse_coords(row, where)
            size = _parse_size(row, where)
            if size is not None:
                if img.csv_size is not None and img.csv_size != size:
                    raise VinDrFormatError(f'{where}: width/height {size} differ from '
                                           f'{img.csv_size} given earlier for this image')
                img.csv_size = size
            twin = (image_id, rad, cid, None if cid == NO_FINDING_ID else
                    tuple(coords) if coords is not None else None)
            if twin in first_row:
                summary.duplicate_rows += 1
                if len(summary.duplicate_examples) < 5:
                    summary.duplicate_examples.append(
                        f'line {reader.line_num} repeats line {first_row[twin]}')
                continue
            first_row[twin] = reader.line_num
            if cid == NO_FINDING_ID:
                summary.no_finding_coords_ignored += coords is not None
                if rad is not None:
                    no_finding_by.add((image_id, rad))
                continue
            if coords is None:
                raise VinDrFormatError(f'{where}: finding {VINDR_CLASSES[cid]!r} has no '
                                       f'coordinates')
            x1, y1, x2, y2 = coords
            if x2 < x1 or y2 < y1:
                raise VinDrFormatError(f'{where}: x_max < x_min or y_max < y_min in '
                                       f'{coords}')
            if x2 == x1 or y2 == y1:
                summary.dropped_zero_area += 1
                continue
            img.boxes.append(ReaderBox(rad, cid, coords, reader.line_num))
    if summary.rows == 0:
        raise VinDrFormatError(f'{csv_path}: no rows after the header')
    both = sorted({(i, b.reader) for i, img in images.items() for b in img.boxes
                   if (i, b.reader) in no_finding_by})
    summary.no_finding_and_box += len(both)
    summary.no_finding_and_box_examples += [f'{r} on image {i}' for i, r in both[:5]]
    summary.images_without_selected_readers += len(seen - set(images))
    return dict(sorted(images.items()))


__all__ = ['VINDR_CLASSES', 'NO_FINDING', 'NO_FINDING_ID', 'VinDrFormatError', 'ReaderBox',
           'VinDrImage', 'read_vindr_csv']
