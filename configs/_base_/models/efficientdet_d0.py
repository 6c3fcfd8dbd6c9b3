# EfficientDet-D0: EfficientNet-B0 + BiFPN (W 64, 3 stages) + head (3 convs), P3-P7.
# 3.88 M parameters at 90 classes (paper 3.9 M). No ImageNet weights ship with
# the project (no downloads): the backbone starts from its own init unless
# `init_cfg=dict(type='Pretrained', checkpoint=...)` is set by the user.
# Input 640 px (the project's protocol; the paper uses 512 for D0).
# HostDetDataPreprocessor: mmdet's DetDataPreprocessor, without copying the data
# samples on a CPU (mmmulti/models/data_preprocessors)
model = dict(
    type='SingleStageDetector',
    data_preprocessor=dict(type='HostDetDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True,
                           pad_size_divisor=128),  # P7 has stride 128
    backbone=dict(type='EfficientNet', arch='b0', drop_path_rate=0.2, out_indices=(3, 4, 5),
                  frozen_stages=0, norm_cfg=dict(type='BN', requires_grad=True,
                                                 momentum=0.01, eps=1e-3),
                  norm_eval=False),
    neck=dict(type='BiFPN', in_channels=[40, 112, 320], out_channels=64, num_stages=3,
              num_outs=5, norm_cfg=dict(type='BN', requires_grad=True, momentum=0.01,
                                        eps=1e-3)),
    bbox_head=dict(
        type='EfficientDetHead', num_classes=90, in_channels=64, stacked_convs=3,
        num_levels=5, norm_cfg=dict(type='BN', requires_grad=True, momentum=0.01, eps=1e-3),
        anchor_generator=dict(type='AnchorGenerator', octave_base_scale=4,
                              scales_per_octave=3, ratios=[0.5, 1.0, 2.0],
                              strides=[8, 16, 32, 64, 128], center_offset=0.5),
        bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0., 0., 0., 0.],
                        target_stds=[1., 1., 1., 1.]),
        loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=1.5, alpha=0.25,
                      loss_weight=1.0),
        # Huber(delta 0.1) x 50 / (4 x positives) == SmoothL1(beta 0.1) x 1.25 / positives
        loss_bbox=dict(type='SmoothL1Loss', beta=0.1, loss_weight=1.25)),
    train_cfg=dict(
        assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.5,
                      min_pos_iou=0, ignore_iof_thr=-1),
        sampler=dict(type='PseudoSampler'), allowed_border=-1, pos_weight=-1, debug=False),
    test_cfg=dict(nms_pre=1000, min_bbox_size=0, score_thr=0.05,
                  nms=dict(type='nms', iou_threshold=0.5), max_per_img=100))
