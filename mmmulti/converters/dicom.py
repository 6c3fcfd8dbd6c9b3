"""DICOM and image-file helpers for the dataset converters.

``pydicom`` and PIL are imported inside the functions so that importing
:mod:`mmmulti` never needs them.
"""
from __future__ import annotations

import os.path as osp

import numpy as np

from mmmulti.utils.atomic import atomic_path

DICOM_EXTS = ('.dicom', '.dcm')
RASTER_EXTS = ('.png', '.jpg', '.jpeg')


def _voi_lut_functions():
    """(apply_modality_lut, apply_voi_lut) for pydicom 3.x or 2.x."""
    try:  # pydicom >= 3.0
        from pydicom.pixels import apply_modality_lut, apply_voi_lut
    except ImportError:  # pydicom 2.x
        from pydicom.pixel_data_handlers.util import apply_modality_lut, apply_voi_lut
    return apply_modality_lut, apply_voi_lut


def read_image_size(path: str) -> tuple[int, int]:
    """(width, height) of a DICOM (Columns/Rows, pixels not read) or PNG/JPG file."""
    if path.lower().endswith(DICOM_EXTS):
        import pydicom
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True)
            return int(ds.Columns), int(ds.Rows)
        except Exception as e:  # noqa: BLE001 - re-raised with the file name
            raise ValueError(f'{path}: cannot read DICOM Rows/Columns ({e})') from e
    from PIL import Image
    try:
        with Image.open(path) as im:
            return im.size
    except Exception as e:  # noqa: BLE001
        raise ValueError(f'{path}: cannot read image size ({e})') from e


def dicom_to_uint8(path: str) -> np.ndarray:
    """Display-ready 8-bit grayscale pixels of a DICOM radiograph.

    Compressed transfer syntaxes (JPEG baseline and extended, JPEG-LS,
    JPEG 2000, RLE) decode through pydicom's pixel handlers and the
    pylibjpeg plugins; a file none of them decodes raises ``ValueError``
    naming it. A single colour frame is converted to its luma.

    Applies the modality LUT (rescale slope/intercept) and the VOI LUT or
    window (WindowCenter/WindowWidth) as the DICOM viewer would, inverts
    MONOCHROME1 (where high values are dark) so that bone is bright, then
    scales the result's min..max to 0..255.
    """
    import pydicom
    apply_modality_lut, apply_voi_lut = _voi_lut_functions()
    try:
        ds = pydicom.dcmread(path)
        arr = ds.pixel_array
    except Exception as e:  # noqa: BLE001 - e.g. a compressed syntax without its plugin
        raise ValueError(f'{path}: cannot decode DICOM pixels ({e})') from e
    if arr.ndim == 3 and arr.shape[-1] == 3 and int(getattr(ds, 'SamplesPerPixel', 1)) == 3:
        # one colour frame (secondary capture, often JPEG baseline): pydicom
        # gives RGB; its luma is the gray a viewer shows, no LUT applies
        luma = arr[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])
        top = float(2 ** int(getattr(ds, 'BitsStored', 8)) - 1)
        return np.clip(np.round(luma * (255.0 / top)), 0, 255).astype(np.uint8)
    if arr.ndim != 2:
        raise ValueError(f'{path}: expected one 2-D grayscale frame, got shape {arr.shape}')
    arr = apply_modality_lut(arr, ds)
    arr = apply_voi_lut(arr, ds).astype(np.float64)
    if str(getattr(ds, 'PhotometricInterpretation', '')).upper() == 'MONOCHROME1':
        arr = arr.max() - arr
    lo, hi = float(arr.min()), float(arr.max())
    if hi <= lo:
        return np.zeros(arr.shape, np.uint8)
    return np.round((arr - lo) * (255.0 / (hi - lo))).astype(np.uint8)


def load_gray_uint8(path: str) -> np.ndarray:
    """8-bit grayscale pixels of a DICOM or PNG/JPG file."""
    if path.lower().endswith(DICOM_EXTS):
        return dicom_to_uint8(path)
    from PIL import Image
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert('L'))
    except Exception as e:  # noqa: BLE001 - re-raised with the file name
        raise ValueError(f'{path}: cannot decode image ({e})') from e


def save_png(arr: np.ndarray, path: str, size: tuple[int, int] | None = None) -> None:
    """Write 8-bit grayscale ``arr`` as PNG, resized to ``size`` (w, h) if given."""
    from PIL import Image
    im = Image.fromarray(arr, mode='L')
    if size is not None and size != im.size:
        im = im.resize(size, Image.BILINEAR)
    with atomic_path(path) as tmp:  # a resumed conversion never keeps a truncated PNG
        im.save(tmp, format='PNG')


def index_image_files(image_dir: str) -> dict[str, str]:
    """Map image stem -> path for DICOM/PNG/JPG files in ``image_dir``.

    When a stem exists in several formats the DICOM is preferred (it holds
    the original pixels and size).
    """
    import os
    if not osp.isdir(image_dir):
        raise FileNotFoundError(f'{image_dir}: image folder not found')
    found: dict[str, str] = {}
    for name in sorted(os.listdir(image_dir)):
        stem, ext = osp.splitext(name)
        ext = ext.lower()
        if ext not in DICOM_EXTS + RASTER_EXTS:
            continue
        prev = found.get(stem)
        if prev is None or (ext in DICOM_EXTS and not prev.lower().endswith(DICOM_EXTS)):
            found[stem] = osp.join(image_dir, name)
    return found
