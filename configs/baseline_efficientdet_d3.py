# Baseline: EfficientDet-D3 on every reader's box as ground truth (MED-MNIST; no fusion,
# no EARL).
_base_ = [
    './_base_/models/efficientdet_d3.py', './_base_/datasets/med_mnist.py',
    './_base_/schedules/schedule_adamw_constant_30e.py', './_base_/default_runtime.py'
]
model = dict(bbox_head=dict(num_classes=10))
train_dataloader = dict(batch_size=8, dataset=dict(fusion=dict(type='AllBoxes')))
default_hooks = dict(checkpoint=dict(save_best='coco/map_40', rule='greater'))
