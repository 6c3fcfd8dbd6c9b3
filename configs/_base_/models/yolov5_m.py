# YOLOv5-M (v6.x / v7.0): deepen_factor 0.67, widen_factor 0.75.
_base_ = './yolov5_s.py'
deepen_factor = 0.67
widen_factor = 0.75
model = dict(
    backbone=dict(deepen_factor=deepen_factor, widen_factor=widen_factor),
    neck=dict(deepen_factor=deepen_factor, widen_factor=widen_factor),
    bbox_head=dict(widen_factor=widen_factor))
