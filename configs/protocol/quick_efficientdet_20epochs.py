# EfficientDet (D0's size at 128 px) on the quick start's data with twice its epochs:
# 20, the first 12 at 96 px (the quick scale's 60 % share), to test what
# docs/results/med_mnist_quick_efficientdet says it needs (its validation mAP@0.4 was still
# rising at epoch 10). About 9x the YOLOv5-n quick start's wall time (33 min on a 2-core
# Intel Xeon): the baseline reaches 0.916 mAP@0.4, WBF + EARL 0.872
# (docs/results/med_mnist_quick_efficientdet_20epochs).
#   python tools/run_protocol.py --scale configs/protocol/quick_efficientdet_20epochs.py \
#       --detector efficientdet_d3 --data-root data/med_mnist_quick
_base_ = './quick.py'
max_epochs = 20
train_cfg = dict(max_epochs=max_epochs, val_interval=2)
default_hooks = dict(checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
# mmengine replaces lists whole: the quick scale's hooks, restated with the switch at 12
custom_hooks = [dict(type='KeepFreedMemoryHook'), dict(type='ChannelsLastHook'),
                dict(type='EMAHook', ema_type='BatchedExpMomentumEMA', momentum=0.005,
                     gamma=200, update_buffers=True, priority=49),
                dict(type='mmdet.PipelineSwitchHook', switch_epoch=12,
                     switch_pipeline={{_base_.train_pipeline}})]
