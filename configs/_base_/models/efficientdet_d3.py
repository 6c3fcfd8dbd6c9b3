# EfficientDet-D3: EfficientNet-B3 + BiFPN (W 160, 6 stages) + head (4 convs).
# 12.03 M parameters at 90 classes (paper 12.0 M); paper input 896 px, configs use 640.
_base_ = './efficientdet_d0.py'
model = dict(
    backbone=dict(arch='b3'),
    neck=dict(in_channels=[48, 136, 384], out_channels=160, num_stages=6),
    bbox_head=dict(in_channels=160, stacked_convs=4))
