"""Pick images of a multi-reader COCO file, fuse them and load their pixels for a figure."""
from __future__ import annotations

import os.path as osp
from typing import Optional, Sequence

import numpy as np


def load_image(path: str) -> np.ndarray:
    """Pixels for display: DICOM via the converter's windowing, else PIL (gray or RGB)."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: image file not found')
    if path.lower().endswith(('.dcm', '.dicom')):
        from mmmulti.converters.dicom import dicom_to_uint8
        return dicom_to_uint8(path)
    from PIL import Image
    with Image.open(path) as im:
        return np.asarray(im.convert('L') if im.mode in ('L', 'I', 'I;16', 'F', '1')
                          else im.convert('RGB'))


def select_images(images: Sequence[dict], reads: Sequence, image_ids: Optional[Sequence] = None,
                  num: int = 4, seed: int = 0) -> list:
    """Indices of the images to show.

    ``image_ids`` may hold COCO image ids or file names (with or without
    extension); otherwise ``num`` images that have at least one box are drawn
    at random with ``seed`` (all of them if fewer), in file order.
    """
    if image_ids:
        lookup = {}
        for k, im in enumerate(images):
            lookup[str(im['id'])] = k
            name = str(im.get('file_name', ''))
            lookup[name] = k
            lookup[osp.splitext(osp.basename(name))[0]] = k
        missing = [str(i) for i in image_ids if str(i) not in lookup]
        if missing:
            raise KeyError(f'image(s) {missing} not found (give COCO ids or file names)')
        return [lookup[str(i)] for i in image_ids]
    with_boxes = [k for k, r in enumerate(reads) if len(r)]
    pool = with_boxes or list(range(len(images)))
    if not pool:
        raise ValueError('the file has no image')
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(pool), size=min(num, len(pool)), replace=False)
    return sorted(pool[k] for k in pick)


def fusion_examples(ann_file: str, img_dir: str, image_ids: Optional[Sequence] = None,
                    num: int = 4, method: str = 'wbf', iou_thr: float = 0.4, seed: int = 0,
                    readers: Optional[Sequence[str]] = None,
                    reader_key: str = 'reader') -> tuple[list, list, list]:
    """``(items, class_names, readers)`` for :func:`plot_fusion_comparison`."""
    from mmmulti.analysis.reader_agreement import build_consensus_fusion
    from mmmulti.io import load_multi_reader_coco
    data = load_multi_reader_coco(ann_file, reader_key=reader_key, readers=readers)
    if data.kind != 'multi_reader':
        from mmmulti.io.require import require_readers
        require_readers(data, ann_file, 'draw')
    fusion = build_consensus_fusion(method, iou_thr)
    items = []
    for k in select_images(data.images, data.reads, image_ids, num, seed):
        im = data.images[k]
        items.append(dict(image=load_image(osp.join(img_dir, im['file_name'])),
                          reads=data.reads[k], fused=fusion.fuse(data.reads[k]),
                          name=f"image {im['id']} ({osp.basename(im['file_name'])})"))
    from mmmulti.converters.vindr_cxr import reader_sort_key
    return items, data.class_names, sorted(data.readers, key=reader_sort_key)
