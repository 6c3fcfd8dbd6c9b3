"""Dense heads: YOLOv5 and EfficientDet."""
from .efficientdet_head import EfficientDetHead
from .yolov5_head import YOLOv5Head

__all__ = ['EfficientDetHead', 'YOLOv5Head']
