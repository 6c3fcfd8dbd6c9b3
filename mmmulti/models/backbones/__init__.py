"""Backbones: YOLOv5 v6/v7 CSP-Darknet (EfficientDet uses mmdet's EfficientNet)."""
from .yolov5_csp_darknet import SPPF, YOLOv5CSPDarknet

__all__ = ['SPPF', 'YOLOv5CSPDarknet']
