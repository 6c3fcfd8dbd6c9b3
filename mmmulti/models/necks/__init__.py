"""Necks: YOLOv5 PAFPN."""
from .yolov5_pafpn import YOLOv5PAFPN

__all__ = ['YOLOv5PAFPN']
