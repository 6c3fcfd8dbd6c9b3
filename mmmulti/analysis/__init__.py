"""Analysis of readers: box matching, agreement with the consensus and between readers."""
from .matching import box_iou, match_boxes

__all__ = ['box_iou', 'match_boxes']
