"""VinDr-CXR / VinBigData annotation CSV -> multi-reader COCO.

The CSV has one row per box (``image_id, class_name, class_id, rad_id,
x_min, y_min, x_max, y_max`` and optionally ``width, height``). A row of
class 14 "No finding" (empty coordinates) says that its ``rad_id`` read the
image and drew nothing: that reader is listed in the image's ``readers`` with
no box (an absent vote, see docs/internals.md).

COCO category ids are VinDr's class ids 0..13; image ids are 1..N in the
order of the sorted ``image_id`` strings, which are kept as ``vindr_id``.

Errors name the CSV file and line (header = line 1). Boxes of zero area or
outside the image, rows of readers not selected, unknown classes (when
asked to drop them), exact duplicate rows and images whose file cannot be
decoded (with ``skip_bad``) are counted in :class:`ConversionSummary`, never
lost silently. The CSV may start with a UTF-8 byte order mark; coordinates
written as ``nan`` (pandas' export of an empty cell) count as empty.
"""
from __future__ import annotations

import csv
import io
import math
import re
import os
import os.path as osp
from collections import Counter
from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np

from .dicom import index_image_files, load_gray_uint8, read_image_size, save_png

VINDR_CLASSES = (
    'Aortic enlargement', 'Atelectasis', 'Calcification', 'Cardiomegaly',
    'Consolidation', 'ILD', 'Infiltration', 'Lung Opacity', 'Nodule/Mass',
    'Other lesion', 'Pleural effusion', 'Pleural thickening', 'Pneumothorax',
    'Pulmonary fibrosis')
NO_FINDING = 'No finding'
NO_FINDING_ID = 14
_NAME_TO_ID = {n.lower(): k for k, n in enumerate(VINDR_CLASSES + (NO_FINDING,))}
_COORDS = ('x_min', 'y_min', 'x_max', 'y_max')


def reader_sort_key(reader: str) -> list:
    """Natural order of reader ids: R2 < R8 < R10."""
    return [int(t) if t.isdigit() else t for t in re.split(r'(\d+)', reader)]


class VinDrFormatError(ValueError):
    """A CSV row or file the converter cannot interpret."""


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


@dataclass
class ConversionSummary:
    """What a conversion kept and dropped; ``format()`` gives the printed report."""

    csv_path: str
    rows: int = 0
    images: int = 0
    boxes: int = 0
    reader_images: Counter = field(default_factory=Counter)
    no_finding_reads: int = 0
    rows_other_readers: int = 0
    images_without_selected_readers: int = 0
    images_missing_required_readers: int = 0
    dropped_zero_area: int = 0
    dropped_outside: int = 0
    clipped: int = 0
    dropped_unknown_class: int = 0
    no_finding_coords_ignored: int = 0
    rescaled_to_file: int = 0
    pngs_written: int = 0
    pngs_kept: int = 0
    duplicate_rows: int = 0
    duplicate_examples: list = field(default_factory=list)
    no_finding_and_box: int = 0
    no_finding_and_box_examples: list = field(default_factory=list)
    bad_images: list = field(default_factory=list)   # (file, reason) skipped

    def format(self) -> str:
        readers = ', '.join(f'{r}: {n}' for r, n in sorted(self.reader_images.items(),
                                                        key=lambda t: reader_sort_key(t[0])))
        lines = [
            f'{self.csv_path}: {self.rows} rows',
            f'  images:            {self.images}',
            f'  readers:           {len(self.reader_images)} ({readers})' if readers
            else '  readers:           none (consensus truth)',
            f'  boxes:             {self.boxes}',
            f'  no-finding reads:  {self.no_finding_reads} (reader read the image, drew no box)',
        ]
        drops = [
            ('rows of readers not selected', self.rows_other_readers),
            ('images without a selected reader', self.images_without_selected_readers),
            ('images lacking a required reader', self.images_missing_required_readers),
            ('boxes of zero area', self.dropped_zero_area),
            ('boxes outside the image', self.dropped_outside),
            ('rows of unknown classes', self.dropped_unknown_class),
            ('duplicate rows', self.duplicate_rows),
            ('images whose file cannot be read (--skip-bad)', len(self.bad_images)),
        ]
        lines.append('  dropped:           ' + (', '.join(
            f'{n} {what}' for what, n in drops if n) or 'nothing'))
        notes = [
            ('boxes clipped to the image', self.clipped),
            ('No finding rows with coordinates (ignored)', self.no_finding_coords_ignored),
            ('images whose boxes were rescaled to the image file size', self.rescaled_to_file),
            ('PNG files written', self.pngs_written),
            ('PNG files kept from an earlier run (not decoded again)', self.pngs_kept),
            ('readers who gave both "No finding" and a box on one image (boxes kept)',
             self.no_finding_and_box),
        ]
        for what, n in notes:
            if n:
                lines.append(f'  {what}: {n}')
        if self.no_finding_and_box_examples:
            lines.append('    e.g. ' + '; '.join(self.no_finding_and_box_examples[:3]))
        if self.duplicate_examples:
            lines.append('  duplicate rows, e.g. ' + '; '.join(self.duplicate_examples[:3]))
        for path, why in self.bad_images:
            lines.append(f'  skipped (cannot read): {path}: {why}')
        return '\n'.join(lines)


def _parse_class(row: dict, where: str) -> Optional[int]:
    """VinDr class id of a row (None: unknown class), name and id cross-checked."""
    raw_id = (row.get('class_id') or '').strip()
    raw_name = (row.get('class_name') or '').strip()
    cid = None
    if raw_id:
        try:
            value = float(raw_id)
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
            f = float(v)
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
        size = (int(float(w)), int(float(h)))
    except ValueError:
        raise VinDrFormatError(f'{where}: width/height {w!r}/{h!r} are not numbers') from None
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


def _select_images(images: dict, readers: Optional[Sequence[str]], require_all: bool,
                   consensus: bool, summary: ConversionSummary) -> dict:
    out = {}
    for image_id, img in images.items():
        if require_all and readers and not set(readers) <= img.readers:
            summary.images_missing_required_readers += 1
            continue
        out[image_id] = img
    return out


def _skip_or_raise(images: dict, image_id: str, path: str, err: Exception,
                   skip_bad: bool, summary: ConversionSummary) -> None:
    """Drop an image whose file cannot be read (listed in the summary) when
    ``skip_bad``; otherwise stop with the file's name."""
    if not skip_bad:
        raise VinDrFormatError(f'{err} (pass --skip-bad / skip_bad=True to skip such '
                               f'images and list them in the summary)') from err
    why = ' '.join(str(err).replace(f'{path}: ', '', 1).split())   # one line
    summary.bad_images.append((path, why))
    del images[image_id]


def resolve_sizes(images: dict, csv_path: str, image_dir: Optional[str],
                  summary: ConversionSummary, progress: bool = True,
                  skip_bad: bool = False) -> None:
    """Give every image its size: from the CSV, or from its file in ``image_dir``.

    When both exist and differ (e.g. PNGs downsized from the DICOMs), the
    boxes, which are in the CSV's frame, are rescaled to the file's size.
    A file whose header cannot be read stops the run, or with ``skip_bad``
    drops its image (listed in the summary).
    """
    files = index_image_files(image_dir) if image_dir else {}
    items = list(images.items())
    if progress and files:  # reading thousands of DICOM headers takes a while
        from tqdm import tqdm
        items = tqdm(items, total=len(images), desc='image sizes', unit='img')
    for image_id, img in items:
        img.source = files.get(image_id)
        try:
            file_size = read_image_size(img.source) if img.source else None
        except ValueError as e:
            _skip_or_raise(images, image_id, img.source, e, skip_bad, summary)
            continue
        if img.csv_size is None and file_size is None:
            where = f'in {image_dir}' if image_dir else '(no --images folder given)'
            raise VinDrFormatError(
                f'{csv_path}: image {image_id}: no size: the CSV has no width/height for '
                f'it and no DICOM/PNG/JPG file named {image_id}.* was found {where}')
        if img.csv_size is not None and file_size is not None and file_size != img.csv_size:
            _scale_boxes(img, file_size[0] / img.csv_size[0], file_size[1] / img.csv_size[1])
            summary.rescaled_to_file += 1
        img.size = file_size or img.csv_size
        img.file_name = osp.basename(img.source) if img.source else f'{image_id}.png'


def _scale_boxes(img: VinDrImage, sx: float, sy: float) -> None:
    for b in img.boxes:
        b.xyxy = [b.xyxy[0] * sx, b.xyxy[1] * sy, b.xyxy[2] * sx, b.xyxy[3] * sy]


def clip_boxes(images: dict, summary: ConversionSummary) -> None:
    """Clip boxes to their image; drop (and count) those left with no area."""
    for img in images.values():
        w, h = img.size
        kept = []
        for b in img.boxes:
            c = [min(max(b.xyxy[0], 0.0), w), min(max(b.xyxy[1], 0.0), h),
                 min(max(b.xyxy[2], 0.0), w), min(max(b.xyxy[3], 0.0), h)]
            if c[2] <= c[0] or c[3] <= c[1]:
                summary.dropped_outside += 1
                continue
            summary.clipped += c != b.xyxy
            b.xyxy = c
            kept.append(b)
        img.boxes = kept


def _png_size(path: str) -> Optional[tuple]:
    """(width, height) of an existing, readable PNG, else None."""
    if not osp.isfile(path):
        return None
    from PIL import Image
    try:
        with Image.open(path) as im:
            im.verify()   # a damaged PNG is decoded again
            return im.size
    except Exception:  # noqa: BLE001 - any unreadable file is redone
        return None


def convert_images_to_png(images: dict, png_out: str, max_size: Optional[int],
                          summary: ConversionSummary, progress: bool = True,
                          skip_bad: bool = False) -> None:
    """Write ``png_out/<image_id>.png`` (8-bit, VOI LUT applied, MONOCHROME1 inverted).

    With ``max_size`` the longer side is reduced to at most that many pixels
    and the boxes are scaled by the same factors. PNGs are written
    atomically, so a PNG of the expected size left by an earlier (stopped)
    run is finished: it is kept, not decoded again, and a re-run resumes.
    A file that cannot be decoded stops the run, or with ``skip_bad`` drops
    its image (listed in the summary).
    """
    os.makedirs(png_out, exist_ok=True)
    items = list(images.values())
    if progress:
        from tqdm import tqdm
        items = tqdm(items, desc='DICOM -> PNG', unit='img')
    for img in items:
        if img.source is None:
            raise VinDrFormatError(f'image {img.image_id}: no DICOM/PNG/JPG file to convert '
                                   f'(give --images with the source files)')
        w, h = img.size
        new = (w, h)
        if max_size and max(w, h) > max_size:
            s = max_size / max(w, h)
            new = (max(1, round(w * s)), max(1, round(h * s)))
        file_name = f'{img.image_id}.png'
        out = osp.join(png_out, file_name)
        if _png_size(out) == new:
            summary.pngs_kept += 1
        else:
            try:
                arr = load_gray_uint8(img.source)
                if (arr.shape[1], arr.shape[0]) != (w, h):
                    raise ValueError(f'{img.source}: pixels are {arr.shape[1]}x'
                                     f'{arr.shape[0]}, header said {w}x{h}')
            except ValueError as e:
                _skip_or_raise(images, img.image_id, img.source, e, skip_bad, summary)
                continue
            save_png(arr, out, new)   # atomic: a PNG at `out` is always complete
            summary.pngs_written += 1
        if new != (w, h):
            _scale_boxes(img, new[0] / w, new[1] / h)
        img.file_name = file_name
        img.size = new


def build_coco(images: dict, consensus: bool = False) -> dict:
    """Multi-reader COCO (docs/internals.md), or clean single-truth COCO if ``consensus``."""
    coco_images, anns = [], []
    for k, img in enumerate(images.values(), start=1):
        entry = dict(id=k, file_name=img.file_name, width=int(img.size[0]),
                     height=int(img.size[1]), vindr_id=img.image_id)
        if not consensus:
            entry['readers'] = sorted(img.readers, key=reader_sort_key)
        coco_images.append(entry)
        for b in img.boxes:
            x1, y1, x2, y2 = (round(float(v), 2) for v in b.xyxy)
            ann = dict(id=len(anns) + 1, image_id=k, category_id=b.class_id,
                       bbox=[x1, y1, round(x2 - x1, 2), round(y2 - y1, 2)],
                       area=round((x2 - x1) * (y2 - y1), 2), iscrowd=0)
            if not consensus:
                ann['reader'] = b.reader
            anns.append(ann)
    return dict(images=coco_images, annotations=anns,
                categories=[dict(id=k, name=n) for k, n in enumerate(VINDR_CLASSES)])


def convert_vindr_csv(csv_path: str, image_dir: Optional[str] = None,
                      png_out: Optional[str] = None,
                      readers: Optional[Sequence[str]] = None,
                      require_all_readers: bool = False, max_size: Optional[int] = None,
                      consensus: bool = False, drop_unknown_classes: bool = False,
                      progress: bool = True,
                      skip_bad: bool = False) -> tuple[dict, ConversionSummary]:
    """Whole conversion: CSV (+ image files) -> COCO dict and its summary.

    ``skip_bad`` drops (and lists) images whose file cannot be read or
    decoded instead of stopping at the first one.
    """
    summary = ConversionSummary(csv_path)
    images = read_vindr_csv(csv_path, readers, consensus, drop_unknown_classes, summary)
    images = _select_images(images, readers, require_all_readers, consensus, summary)
    resolve_sizes(images, csv_path, image_dir, summary, progress, skip_bad)
    clip_boxes(images, summary)
    if png_out:
        convert_images_to_png(images, png_out, max_size, summary, progress, skip_bad)
    elif max_size:
        raise ValueError('max_size resizes the PNGs written to png_out; give png_out too')
    coco = build_coco(images, consensus)
    summary.images = len(coco['images'])
    summary.boxes = len(coco['annotations'])
    for img in images.values():
        for r in img.readers:
            summary.reader_images[r] += 1
        drew = {b.reader for b in img.boxes}
        summary.no_finding_reads += len(img.readers - drew)
    return coco, summary


def split_coco_by_image(coco: dict, val_fraction: float, seed: int = 0) -> tuple[dict, dict]:
    """Random split by image (all reads of an image stay together): (train, val)."""
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f'val_fraction must be in (0, 1), got {val_fraction}')
    ids = np.array([im['id'] for im in coco['images']])
    rng = np.random.default_rng(seed)
    n_val = int(round(len(ids) * val_fraction))
    val_ids = set(rng.permutation(ids)[:n_val].tolist())

    def part(in_val: bool) -> dict:
        return dict(coco,
                    images=[im for im in coco['images'] if (im['id'] in val_ids) == in_val],
                    annotations=[a for a in coco['annotations']
                                 if (a['image_id'] in val_ids) == in_val])
    return part(False), part(True)
