# The paper's own training setting for YOLOv5-S with WBF + EARL: YOLOv5's loss
# gains, SGD lr 1e-3 one-cycle for 50 epochs, no EMA, fine-tuned from COCO-pretrained
# weights. None can be downloaded here; pass a COCO checkpoint of this model:
#   python tools/train.py configs/earl_yolo_paper.py --cfg-options load_from=PATH
# From scratch this schedule barely moves the model (docs/recipes.md), so the
# shipped configs/earl_yolo.py trains from scratch with AdamW + EMA instead.
_base_ = [
    './_base_/models/yolov5_s.py', './_base_/datasets/med_mnist.py',
    './_base_/schedules/schedule_sgd_onecycle_50e.py', './_base_/default_runtime.py'
]
model = dict(bbox_head=dict(
    type='EARL', head_type='YOLOv5Head', num_classes=10,
    earl=dict(weight_mode='fraction', terms=('cls', 'box', 'obj'), normalize=None)))
train_dataloader = dict(dataset=dict(
    fusion=dict(type='WBF', iou_thr=0.4, skip_box_thr=0.0, conf_type='avg')))
default_hooks = dict(checkpoint=dict(save_best='coco/map_40', rule='greater'))
