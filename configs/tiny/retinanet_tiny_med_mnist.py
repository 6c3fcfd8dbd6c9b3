# End-to-end smoke config: tiny RetinaNet on tiny MED-MNIST, 2 iterations.
_base_ = [
    '../_base_/models/retinanet_tiny.py', '../_base_/datasets/med_mnist_tiny.py',
    '../_base_/schedules/schedule_tiny.py', '../_base_/default_runtime.py'
]
default_hooks = dict(checkpoint=dict(interval=1, by_epoch=False),
                     logger=dict(interval=1))
log_processor = dict(by_epoch=False)
# WBF truth inference, so that EARL (tests, configs/examples/) has agreement weights
train_dataloader = dict(dataset=dict(
    fusion=dict(type='WBF', iou_thr=0.4, skip_box_thr=0.0, conf_type='avg')))
