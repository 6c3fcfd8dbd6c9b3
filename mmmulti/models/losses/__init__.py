"""Losses of the project's detectors."""
from .yolov5_ciou_loss import YOLOv5CIoULoss, bbox_ciou_xywh

__all__ = ['YOLOv5CIoULoss', 'bbox_ciou_xywh']
