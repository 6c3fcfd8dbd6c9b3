"""Figures: readers' boxes, fused boxes, reader agreement (matplotlib, Agg, imported lazily)."""
from .boxes import draw_fused_boxes, draw_reader_boxes, reader_colors
from .figures import plot_fusion_comparison, plot_reader_agreement
from .reliability import plot_reliability
from .fusion_examples import fusion_examples, load_image, select_images

__all__ = ['reader_colors', 'draw_reader_boxes', 'draw_fused_boxes',
           'plot_reader_agreement', 'plot_fusion_comparison', 'fusion_examples',
           'load_image', 'select_images', 'plot_reliability']
