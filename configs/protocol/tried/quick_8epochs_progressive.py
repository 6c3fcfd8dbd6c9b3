# Tried, not shipped (docs/speed.md): the quick start at 8 epochs, the first 5 at 96 px
# (the quick scale's 10 epochs with the switch at 6 cost 6 x 2/3 + 4 = 8 full-size
# epochs; this 5 x 2/3 + 3 = 6.3). Intel Xeon 2-core, seed 0: 172 s against the shipped
# 197-217 s, but baseline 0.954 / 0.687 and WBF + EARL 0.942 / 0.693, both under their
# targets, and WBF + EARL's lead gone (mAP[.5:.95] +0.006 [-0.011, +0.022], n.d.).
#   python tools/run_protocol.py --scale configs/protocol/tried/quick_8epochs_progressive.py \
#       --data-root data/med_mnist_quick --work-dir work_dirs/tried_quick_8epochs_progressive
_base_ = '../quick.py'
max_epochs = 8
train_cfg = dict(max_epochs=max_epochs, val_interval=2)
default_hooks = dict(checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
# mmengine replaces lists whole: the quick scale's hooks, restated with the switch at 5
custom_hooks = [dict(type='KeepFreedMemoryHook'), dict(type='ChannelsLastHook'),
                dict(type='EMAHook', ema_type='BatchedExpMomentumEMA', momentum=0.005,
                     gamma=200, update_buffers=True, priority=49),
                dict(type='mmdet.PipelineSwitchHook', switch_epoch=5,
                     switch_pipeline={{_base_.train_pipeline}})]
