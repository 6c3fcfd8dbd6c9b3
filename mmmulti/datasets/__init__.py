"""Data sets and pipeline transforms of multi-reader detection."""
from . import transforms  # noqa: F401  (registers the transforms)
from .fused_annotations import FusedAnnotations
from .fusion_cache import CACHE_STATS, default_cache_dir
from .multi_annotator_coco import MultiAnnotatorCocoDataset

__all__ = ['MultiAnnotatorCocoDataset', 'FusedAnnotations', 'CACHE_STATS', 'default_cache_dir']
