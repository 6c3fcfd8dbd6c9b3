"""Dataset converters: public multi-reader data sets -> multi-reader COCO."""
from .vindr_cxr import (NO_FINDING, VINDR_CLASSES, ConversionSummary, VinDrFormatError,
                        convert_vindr_csv, reader_sort_key, split_coco_by_image)

__all__ = ['VINDR_CLASSES', 'NO_FINDING', 'ConversionSummary', 'VinDrFormatError',
           'convert_vindr_csv', 'split_coco_by_image', 'reader_sort_key']
