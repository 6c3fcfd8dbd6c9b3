"""The whole VinDr-CXR conversion: CSV (+ image files) -> multi-reader COCO, and its split.

COCO category ids are VinDr's class ids 0..13; image ids are 1..N in the
order of the sorted ``image_id`` strings, which are kept as ``vindr_id``.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from .vindr_csv import VINDR_CLASSES, read_vindr_csv
from .vindr_images import clip_boxes, convert_images_to_png, resolve_sizes
from .vindr_summary import ConversionSummary, reader_sort_key


def _select_images(images: dict, readers: Optional[Sequence[str]], require_all: bool,
                   consensus: bool, summary: ConversionSummary) -> dict:
    out = {}
    for image_id, img in images.items():
        if require_all and readers and not set(readers) <= img.readers:
            summary.images_missing_required_readers += 1
            continue
        out[image_id] = img
    return out


#: decimals of the coordinates written (0.01 px)
COORD_DECIMALS = 2


def written_xywh(xyxy) -> tuple:
    """``(x, y, w, h)`` of a box as the COCO file records it, to ``COORD_DECIMALS``:
    the one rounding that both the resolution check and the writer apply."""
    x1, y1, x2, y2 = (round(float(v), COORD_DECIMALS) for v in xyxy)
    return x1, y1, round(x2 - x1, COORD_DECIMALS), round(y2 - y1, COORD_DECIMALS)


def drop_boxes_below_resolution(images: dict, summary: ConversionSummary) -> None:
    """Drop (and count) boxes whose width or height rounds to zero at the written
    resolution: written, they would be boxes of area 0 that no summary showed."""
    for img in images.values():
        kept = []
        for b in img.boxes:
            _, _, bw, bh = written_xywh(b.xyxy)
            if bw <= 0 or bh <= 0:
                summary.dropped_below_resolution += 1
                continue
            kept.append(b)
        img.boxes = kept


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
            x1, y1, bw, bh = written_xywh(b.xyxy)
            # the area of the box as written (a 0.01 x 0.4 box keeps area > 0)
            ann = dict(id=len(anns) + 1, image_id=k, category_id=b.class_id,
                       bbox=[x1, y1, bw, bh], area=round(bw * bh, 2 * COORD_DECIMALS),
                       iscrowd=0)
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
    drop_boxes_below_resolution(images, summary)
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


__all__ = ['build_coco', 'drop_boxes_below_resolution', 'convert_vindr_csv', 'split_coco_by_image']
