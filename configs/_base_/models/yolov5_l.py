# YOLOv5-L (v6.x / v7.0): deepen_factor 1.0, widen_factor 1.0.
_base_ = './yolov5_s.py'
deepen_factor = 1.0
widen_factor = 1.0
model = dict(
    backbone=dict(deepen_factor=deepen_factor, widen_factor=widen_factor),
    neck=dict(deepen_factor=deepen_factor, widen_factor=widen_factor),
    bbox_head=dict(widen_factor=widen_factor))
