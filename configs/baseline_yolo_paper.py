# The paper's own training setting for the all-boxes YOLOv5-S baseline (see
# configs/earl_yolo_paper.py): YOLOv5's gains, SGD lr 1e-3 one-cycle, 50 epochs,
# meant to fine-tune a COCO-pretrained model (--cfg-options load_from=PATH).
_base_ = [
    './_base_/models/yolov5_s.py', './_base_/datasets/med_mnist.py',
    './_base_/schedules/schedule_sgd_onecycle_50e.py', './_base_/default_runtime.py'
]
model = dict(bbox_head=dict(num_classes=10))
train_dataloader = dict(dataset=dict(fusion=dict(type='AllBoxes')))
default_hooks = dict(checkpoint=dict(save_best='coco/map_40', rule='greater'))
