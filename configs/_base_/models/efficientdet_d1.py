# EfficientDet-D1: EfficientNet-B1 + BiFPN (W 88, 4 stages) + head (3 convs).
# 6.63 M parameters at 90 classes (paper 6.6 M); paper input 640 px, configs use 640.
_base_ = './efficientdet_d0.py'
model = dict(
    backbone=dict(arch='b1'),
    neck=dict(in_channels=[40, 112, 320], out_channels=88, num_stages=4),
    bbox_head=dict(in_channels=88, stacked_convs=3))
