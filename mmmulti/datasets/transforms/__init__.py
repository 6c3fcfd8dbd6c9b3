"""Pipeline transforms that keep per-box EARL weights aligned (see
:mod:`.box_weights` for the design)."""
from .box_weights import (PACKED_FLAG, is_packed, pack_box_weights, pack_labels,
                          unpack_box_weights, unpack_labels)
from .class_shares import CLASS_SPLIT_KEY, merge_class_split_rows
from .formatting import PackMultiReaderInputs
from .fuse_annotations import FuseAnnotations
from .loading import LoadImageCheckSize, LoadMultiReaderAnnotations, get_gt_readers

__all__ = ['LoadMultiReaderAnnotations', 'LoadImageCheckSize', 'PackMultiReaderInputs',
           'FuseAnnotations', 'PACKED_FLAG', 'is_packed', 'pack_box_weights',
           'unpack_box_weights', 'pack_labels', 'unpack_labels', 'get_gt_readers',
           'CLASS_SPLIT_KEY', 'merge_class_split_rows']
