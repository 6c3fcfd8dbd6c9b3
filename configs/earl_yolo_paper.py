# The paper's own training setting for YOLOv5-S (earl arm): YOLOv5's loss gains,
# SGD lr 1e-3 one-cycle for 50 epochs, fine-tuned from COCO-pretrained weights,
# no EMA. No pretrained weights can be downloaded here; pass a COCO checkpoint
# of this model yourself:
#   python tools/train.py configs/earl_yolo_paper.py --cfg-options load_from=PATH
# From scratch this schedule barely moves the model (docs/recipes.md), so the
# shipped configs/earl_yolo.py trains from scratch with AdamW + EMA instead.
_base_ = './earl_yolo.py'
model = dict(bbox_head=dict(loss_weights=dict(box=0.05, obj=1.0, cls=0.5)))
max_epochs = 50
train_cfg = dict(max_epochs=max_epochs, val_interval=5)
optim_wrapper = dict(
    _delete_=True, type='OptimWrapper',
    optimizer=dict(type='SGD', lr=1e-3, momentum=0.937, weight_decay=5e-4, nesterov=True),
    clip_grad=dict(max_norm=10.0))
param_scheduler = [
    dict(type='OneCycleLR', eta_max=1e-3, pct_start=0.1, anneal_strategy='cos',
         div_factor=25.0, final_div_factor=1e4, by_epoch=True, convert_to_iter_based=True,
         begin=0, end=max_epochs, total_steps=max_epochs),
]
custom_hooks = []
