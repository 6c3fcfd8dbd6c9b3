# The quick start before progressive resizing (until 2026-12-07): all 10 epochs at
# 128 px. Kept to compare against (docs/speed.md); 20 % more training time, and its
# all-boxes baseline trained worse on the weaker readers' data (proficiency 0.7).
#   python tools/run_protocol.py --scale configs/protocol/tried/quick_all_128px.py \
#       --data-root data/med_mnist_quick --work-dir work_dirs/tried_quick_all_128px
_base_ = '../quick.py'
custom_hooks = [dict(type='KeepFreedMemoryHook'), dict(type='ChannelsLastHook'),
                dict(type='EMAHook', ema_type='BatchedExpMomentumEMA', momentum=0.005,
                     gamma=200, update_buffers=True, priority=49)]
train_dataloader = dict(dataset=dict(pipeline={{_base_.train_pipeline}}))
