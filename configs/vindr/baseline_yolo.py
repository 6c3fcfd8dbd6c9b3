# Baseline: YOLOv5-S on every reader's box as ground truth (VinDr-CXR; no fusion,
# no EARL).
_base_ = [
    '../_base_/models/yolov5_s.py', '../_base_/datasets/vindr_cxr.py',
    '../_base_/schedules/schedule_adamw_onecycle_ema_60e.py', '../_base_/default_runtime.py'
]
# class gain x8 over YOLOv5's: trained from scratch, its nc/80 scaling leaves
# the class loss too weak to learn (docs/models.md)
model = dict(bbox_head=dict(num_classes=14, loss_weights=dict(box=0.05, obj=1.0, cls=4.0)))
train_dataloader = dict(dataset=dict(fusion=dict(type='AllBoxes')))
default_hooks = dict(checkpoint=dict(save_best='coco/map_40', rule='greater'))
