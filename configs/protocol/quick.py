# Quick start (README): MED-MNIST 2,000 / 80 / 200 images at 128 px, 3 readers of
# proficiency 0.8; the all-boxes baseline vs WBF + EARL, one seed, YOLOv5-n with the
# from-scratch recipe for 10 epochs, the first 6 of them at 96 px: 3 min 13 s to 3 min 39 s on a
# fast 2-core CPU (docs/speed.md).
_base_ = './_cpu_overrides.py'
data = dict(num_train=2000, num_val=80, num_test=200, img_size=128, seed=0)
arms = ['baseline', 'wbf_earl']
seeds = [0]
# Progressive resizing (docs/speed.md): epochs 0-5 train on the images resized to 96 px,
# epochs 6-9 at the full 128 px, where mmdet's PipelineSwitchHook swaps the training
# pipeline; validation and test stay at 128 px. Training 20 % shorter, and on three
# simulator settings every arm as accurate or more than with all 10 epochs at 128 px
# (configs/protocol/tried/quick_all_128px.py).
_small = (96, 96)
_train_pipeline_96 = [
    dict(type='LoadImageCheckSize'),
    dict(type='LoadMultiReaderAnnotations', with_bbox=True),
    dict(type='Resize', scale=_small, keep_ratio=True),
    dict(type='Pad', size=_small, pad_val=dict(img=(114, 114, 114))),
    dict(type='PackMultiReaderInputs'),
]
# Speed (docs/speed.md): channels-last weights make oneDNN's convolutions skip their
# layout reorders (YOLOv5-n's step 1.2x faster on 2 cores); the EMA as in the CPU scales.
# KeepFreedMemoryHook: glibc keeps freed activations in the heap rather than giving
# them back to the kernel to zero-fill again next iteration (AVX2 2-core machine: 16 M
# page faults and 54 s of kernel time -> 0.72 M and 10 s; 415 -> 380 s, the same table)
custom_hooks = [dict(type='KeepFreedMemoryHook'), dict(type='ChannelsLastHook'),
                dict(type='EMAHook', ema_type='BatchedExpMomentumEMA', momentum=0.005,
                     gamma=200, update_buffers=True, priority=49),
                dict(type='mmdet.PipelineSwitchHook', switch_epoch=6,
                     switch_pipeline={{_base_.train_pipeline}})]
# both arms train at once, one torch thread each: 1.2x the images per second of one
# 2-thread run on 2 cores, and each arm's start-up and test overlap the other's training
parallel_arms = 2
# the 2,000 training PNGs decoded once into memory (100 MB) rather than every epoch
train_dataloader = dict(dataset=dict(cache_images=True, pipeline=_train_pipeline_96))
