"""VinDr-CXR / VinBigData annotation CSV -> multi-reader COCO: the import path.

The conversion lives in modules of one concept each: :mod:`.vindr_csv` (the
CSV: rows, classes, coordinates), :mod:`.vindr_images` (image sizes, clipping,
DICOM -> PNG; decoding itself in :mod:`.dicom`), :mod:`.vindr_convert` (the
whole conversion, the COCO dict and the train/val split) and
:mod:`.vindr_summary` (what was kept and dropped). Boxes of zero area or
outside the image, rows of readers not selected, unknown classes (when asked
to drop them), exact duplicate rows and images whose file cannot be decoded
(with ``skip_bad``) are counted in :class:`ConversionSummary`, never lost
silently. This module keeps ``mmmulti.converters.vindr_cxr.<name>`` working.
"""
from .vindr_convert import build_coco, convert_vindr_csv, split_coco_by_image
from .vindr_csv import (NO_FINDING, NO_FINDING_ID, VINDR_CLASSES, ReaderBox, VinDrFormatError,
                        VinDrImage, read_vindr_csv)
from .vindr_images import clip_boxes, convert_images_to_png, resolve_sizes
from .vindr_summary import ConversionSummary, reader_sort_key

__all__ = ['VINDR_CLASSES', 'NO_FINDING', 'NO_FINDING_ID', 'ConversionSummary',
           'VinDrFormatError', 'ReaderBox', 'VinDrImage', 'read_vindr_csv', 'resolve_sizes',
           'clip_boxes', 'convert_images_to_png', 'build_coco', 'convert_vindr_csv',
           'split_coco_by_image', 'reader_sort_key']
