"""Registered metrics of the mmmulti scope."""
from .multi_reader_det_metric import MultiReaderDetMetric

__all__ = ['MultiReaderDetMetric']
