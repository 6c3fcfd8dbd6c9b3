# Shared by the CPU scales (quick, mini): small images, YOLOv5-n, the from-scratch
# recipe of configs/_base_/schedules/schedule_adamw_onecycle_ema_60e.py with the
# epochs and EMA horizon of a short run: many generated images, few epochs
# (docs/recipes.md: at equal compute 2,000 images x 11 epochs beat 400 x 52).
# An override config (mmmulti/protocol/scale.py): the protocol merges its public keys
# onto each arm's experiment config (configs/earl_yolo.py, configs/baseline_yolo.py...),
# and `detector_overrides.yolo` onto the YOLOv5 arms only.
max_epochs = 10  # quick; mini restates the schedule for its own length
img_scale = (128, 128)
_batch_size = 16  # per-iteration overhead: 16 trains ~1.4x more images/s than 8
train_pipeline = [
    dict(type='LoadImageCheckSize'),
    dict(type='LoadMultiReaderAnnotations', with_bbox=True),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='Pad', size=img_scale, pad_val=dict(img=(114, 114, 114))),
    dict(type='PackMultiReaderInputs'),
]
test_pipeline = [
    dict(type='LoadImageCheckSize'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='Pad', size=img_scale, pad_val=dict(img=(114, 114, 114))),
    dict(type='LoadMultiReaderAnnotations', with_bbox=True),
    dict(type='PackMultiReaderInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
_loader = dict(num_workers=0, persistent_workers=False)
train_dataloader = dict(batch_size=_batch_size, **_loader, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=16, **_loader, dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(batch_size=16, **_loader, dataset=dict(pipeline=test_pipeline))
train_cfg = dict(max_epochs=max_epochs, val_interval=2)
# one cycle over train_cfg.max_epochs, whatever a scale sets it to (mmengine's runner
# fills in the cycle's `end`); also replaces EfficientDet's constant LR at these scales
param_scheduler = [dict(type='OneCycleLR', eta_max=3e-3, pct_start=0.1, anneal_strategy='cos',
                        div_factor=25.0, final_div_factor=100.0, by_epoch=True,
                        convert_to_iter_based=True)]
# the current model's weight in the EMA, (1 - m) e^(-iter/200) + m, ends near
# m = 0.005 (a horizon of ~200 of the ~1,250 iterations) rather than YOLOv5's
# 0.0001 (10^4 iterations, longer than the run); measured at 10 epochs, the
# two were not distinguishable (docs/recipes.md)
# KeepFreedMemoryHook: freed activations reused from the heap, not refaulted (docs/speed.md)
custom_hooks = [dict(type='KeepFreedMemoryHook'),
                dict(type='EMAHook', ema_type='BatchedExpMomentumEMA', momentum=0.005,
                     gamma=200, update_buffers=True, priority=49)]
default_hooks = dict(logger=dict(interval=10),
                     checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
# JSON scalars feed the protocol's learning curves; TensorBoard as everywhere
visualizer = dict(vis_backends=[dict(type='LocalVisBackend'),
                                dict(type='TensorboardVisBackend')])
# YOLOv5-n at 128 px. Box gain 0.1 (the 60-epoch configs: 0.05): with the class gain
# raised to 4, the box loss had 1/80 of the class loss's weight and localised coarsely;
# at 1/40 mAP[.5:.95] rose by 0.05 at an unchanged mAP@0.4 (docs/recipes.md)
_yolo_cpu = dict(
    deepen_factor=0.33, widen_factor=0.25,
    model=dict(backbone=dict(deepen_factor=0.33, widen_factor=0.25),
               neck=dict(deepen_factor=0.33, widen_factor=0.25),
               bbox_head=dict(widen_factor=0.25, train_size=img_scale[0],
                              loss_weights=dict(box=0.1))))
# EfficientDet at 128 px: D0's size (B0, BiFPN W 64 x 3, head 3 convs), as YOLOv5-n
# stands for YOLOv5-S above, and anchors of half the size: at octave base scale 4 the
# smallest anchor is 32 px, and a median 128-px MED-MNIST box (16 x 21) overlaps no
# anchor at IoU 0.5 (0.33 at best), so it trains only its one forced best anchor.
_effdet_cpu = dict(model=dict(
    backbone=dict(arch='b0'),
    neck=dict(in_channels=[40, 112, 320], out_channels=64, num_stages=3),
    bbox_head=dict(in_channels=64, stacked_convs=3,
                   anchor_generator=dict(octave_base_scale=2))))
detector_overrides = dict(yolo=_yolo_cpu, efficientdet_d3=_effdet_cpu,
                          efficientdet_d4=_effdet_cpu)
ensemble = dict(iou_thr=0.4, skip_box_thr=0.0, conf_type='avg')
