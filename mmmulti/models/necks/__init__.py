"""Necks: YOLOv5 PAFPN and EfficientDet's BiFPN."""
from .bifpn import BiFPN
from .yolov5_pafpn import YOLOv5PAFPN

__all__ = ['BiFPN', 'YOLOv5PAFPN']
