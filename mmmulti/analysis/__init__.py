"""Analysis of readers: box matching, agreement with the consensus and between readers."""
from .matching import box_iou, match_boxes
from .reader_agreement import (AgreementReport, ReaderStats, reader_agreement,
                               reader_agreement_from_file)

__all__ = ['box_iou', 'match_boxes', 'AgreementReport', 'ReaderStats', 'reader_agreement',
           'reader_agreement_from_file']
