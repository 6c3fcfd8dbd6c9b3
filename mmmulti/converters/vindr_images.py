"""The image files of a VinDr-CXR conversion: sizes, clipping, DICOM -> PNG.

The boxes of the CSV live in the frame of its width/height; when an image
file of another size is found, or a PNG is written smaller, the boxes are
scaled with it. A file that cannot be read stops the run or, with
``skip_bad``, drops its image, listed in the summary.
"""
from __future__ import annotations

import os
import os.path as osp
from typing import Optional

from .dicom import index_image_files, load_gray_uint8, read_image_size, save_png
from .vindr_csv import VinDrFormatError, VinDrImage
from .vindr_summary import ConversionSummary


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


__all__ = ['resolve_sizes', 'clip_boxes', 'convert_images_to_png']
