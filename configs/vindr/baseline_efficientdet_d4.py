# Baseline: EfficientDet-D4 on every reader's box as ground truth (VinDr-CXR; no fusion,
# no EARL).
_base_ = [
    '../_base_/models/efficientdet_d4.py', '../_base_/datasets/vindr_cxr.py',
    '../_base_/schedules/schedule_adamw_constant_30e.py', '../_base_/default_runtime.py'
]
model = dict(bbox_head=dict(num_classes=14))
train_dataloader = dict(batch_size=8, dataset=dict(fusion=dict(type='AllBoxes')))
default_hooks = dict(checkpoint=dict(save_best='coco/map_40', rule='greater'))
