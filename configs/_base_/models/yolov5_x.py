# YOLOv5-X (v6.x / v7.0): deepen_factor 1.33, widen_factor 1.25.
_base_ = './yolov5_s.py'
deepen_factor = 1.33
widen_factor = 1.25
model = dict(
    backbone=dict(deepen_factor=deepen_factor, widen_factor=widen_factor),
    neck=dict(deepen_factor=deepen_factor, widen_factor=widen_factor),
    bbox_head=dict(widen_factor=widen_factor))
