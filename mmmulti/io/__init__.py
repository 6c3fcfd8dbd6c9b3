"""Reading and writing annotation files (multi-reader COCO, fused COCO)."""
from .drops import DROP_REASONS, DropReport
from .parsed import FUSED_READER, SINGLE_TRUTH_READER, MultiReaderCoco
from .reading import load_multi_reader_coco
from .writing import dump_fused_coco, fused_to_coco

__all__ = ['load_multi_reader_coco', 'dump_fused_coco', 'fused_to_coco', 'MultiReaderCoco',
           'DropReport', 'DROP_REASONS', 'SINGLE_TRUTH_READER', 'FUSED_READER']
