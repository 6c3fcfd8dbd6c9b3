# YOLOv5-S (v6.x / v7.0 architecture): 7,235,389 parameters at 80 classes.
# Other sizes: yolov5_{n,m,l,x}.py override deepen_factor / widen_factor.
# Loss gains are YOLOv5's hyp.scratch-low, scaled as its train.py does
# (see mmmulti.models.dense_heads.YOLOv5Head); `train_size` feeds the obj gain.
deepen_factor = 0.33
widen_factor = 0.5
# HostDetDataPreprocessor: mmdet's DetDataPreprocessor, without copying the data
# samples on a CPU (mmmulti/models/data_preprocessors)
model = dict(
    type='SingleStageDetector',
    data_preprocessor=dict(type='HostDetDataPreprocessor', mean=[0., 0., 0.],
                           std=[255., 255., 255.], bgr_to_rgb=True, pad_size_divisor=32),
    backbone=dict(type='YOLOv5CSPDarknet', deepen_factor=deepen_factor,
                  widen_factor=widen_factor, out_indices=(2, 3, 4)),
    neck=dict(type='YOLOv5PAFPN', in_channels=[256, 512, 1024],
              deepen_factor=deepen_factor, widen_factor=widen_factor, num_csp_blocks=3),
    bbox_head=dict(
        type='YOLOv5Head', num_classes=80, in_channels=[256, 512, 1024],
        widen_factor=widen_factor,
        anchors=[[(10, 13), (16, 30), (33, 23)], [(30, 61), (62, 45), (59, 119)],
                 [(116, 90), (156, 198), (373, 326)]],
        strides=[8, 16, 32],
        assigner=dict(type='ShapeNeighbourAssigner', ratio_thr=4.0, neighbour_margin=0.5),
        obj_level_weights=[4.0, 1.0, 0.4],
        loss_weights=dict(box=0.05, obj=1.0, cls=0.5), train_size=640),
    train_cfg=None,
    # YOLOv5 val.py: conf 0.001, IoU 0.6, 300 detections, multi-label
    test_cfg=dict(score_thr=0.001, multi_label=True, nms_pre=30000, min_bbox_size=0,
                  nms=dict(type='nms', iou_threshold=0.6), max_per_img=300))
