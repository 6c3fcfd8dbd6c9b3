"""Reading and writing annotation files (multi-reader COCO, fused COCO)."""
from .multi_reader_coco import (DROP_REASONS, FUSED_READER, SINGLE_TRUTH_READER,
                                DropReport, MultiReaderCoco, dump_fused_coco,
                                fused_to_coco, load_multi_reader_coco)

__all__ = ['load_multi_reader_coco', 'dump_fused_coco', 'fused_to_coco', 'MultiReaderCoco',
           'DropReport', 'DROP_REASONS', 'SINGLE_TRUTH_READER', 'FUSED_READER']
