"""Truth inference: fuse the readers' boxes of each image (pure numpy)."""
from .base import BaseFusion, FusedBoxes, ImageReads, agreement_confidence
from .wbf import WBF

__all__ = ['BaseFusion', 'FusedBoxes', 'ImageReads', 'agreement_confidence', 'WBF']
