# EfficientDet-D4: EfficientNet-B4 + BiFPN (W 224, 7 stages) + head (4 convs).
# 20.72 M parameters at 90 classes (paper 20.7 M); paper input 1024 px, configs use 640.
_base_ = './efficientdet_d0.py'
model = dict(
    backbone=dict(arch='b4'),
    neck=dict(in_channels=[56, 160, 448], out_channels=224, num_stages=7),
    bbox_head=dict(in_channels=224, stacked_convs=4))
