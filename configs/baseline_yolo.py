# Baseline: YOLOv5-S on every reader's box as ground truth (MED-MNIST; no fusion,
# no EARL).
_base_ = [
    './_base_/models/yolov5_s.py', './_base_/datasets/med_mnist.py',
    './_base_/schedules/schedule_sgd_onecycle_50e.py', './_base_/default_runtime.py'
]
model = dict(bbox_head=dict(num_classes=10))
train_dataloader = dict(dataset=dict(fusion=dict(_delete_=True, type='AllBoxes')))
default_hooks = dict(checkpoint=dict(save_best='coco/map_40', rule='greater'))
