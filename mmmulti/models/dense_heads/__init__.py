"""Dense heads: YOLOv5."""
from .yolov5_head import YOLOv5Head

__all__ = ['YOLOv5Head']
