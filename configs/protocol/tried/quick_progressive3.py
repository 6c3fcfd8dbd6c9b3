# Progressive resizing in three steps: epochs 0-2 at 64 px, 3-5 at 96 px, 6-9 at the
# full 128 px (two mmdet PipelineSwitchHooks, each swapping the training pipeline once).
# Tried, not shipped (docs/speed.md): on seed 0 WBF+EARL collapsed to 0.808 / 0.590 and
# the baseline fell to 0.920 / 0.674, and training was no shorter than the shipped
# two-step schedule's in that hour (184 s per arm).
#   python tools/run_protocol.py --scale configs/protocol/tried/quick_progressive3.py \
#       --data-root data/med_mnist_quick --work-dir work_dirs/tried_quick_progressive3
_base_ = '../quick.py'
_pipeline_64 = [
    dict(type='LoadImageCheckSize'),
    dict(type='LoadMultiReaderAnnotations', with_bbox=True),
    dict(type='Resize', scale=(64, 64), keep_ratio=True),
    dict(type='Pad', size=(64, 64), pad_val=dict(img=(114, 114, 114))),
    dict(type='PackMultiReaderInputs'),
]
_pipeline_96 = [
    dict(type='LoadImageCheckSize'),
    dict(type='LoadMultiReaderAnnotations', with_bbox=True),
    dict(type='Resize', scale=(96, 96), keep_ratio=True),
    dict(type='Pad', size=(96, 96), pad_val=dict(img=(114, 114, 114))),
    dict(type='PackMultiReaderInputs'),
]
_pipeline_128 = [
    dict(type='LoadImageCheckSize'),
    dict(type='LoadMultiReaderAnnotations', with_bbox=True),
    dict(type='Resize', scale=(128, 128), keep_ratio=True),
    dict(type='Pad', size=(128, 128), pad_val=dict(img=(114, 114, 114))),
    dict(type='PackMultiReaderInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=_pipeline_64))
custom_hooks = [dict(type='KeepFreedMemoryHook'), dict(type='ChannelsLastHook'),
                dict(type='EMAHook', ema_type='BatchedExpMomentumEMA', momentum=0.005,
                     gamma=200, update_buffers=True, priority=49),
                dict(type='mmdet.PipelineSwitchHook', switch_epoch=3,
                     switch_pipeline=_pipeline_96),
                dict(type='mmdet.PipelineSwitchHook', switch_epoch=6,
                     switch_pipeline=_pipeline_128)]
