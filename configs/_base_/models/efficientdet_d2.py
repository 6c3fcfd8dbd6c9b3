# EfficientDet-D2: EfficientNet-B2 + BiFPN (W 112, 5 stages) + head (3 convs).
# 8.10 M parameters at 90 classes (paper 8.1 M); paper input 768 px, configs use 640.
_base_ = './efficientdet_d0.py'
model = dict(
    backbone=dict(arch='b2'),
    neck=dict(in_channels=[48, 120, 352], out_channels=112, num_stages=5),
    bbox_head=dict(in_channels=112, stacked_convs=3))
