# Quick start (README): MED-MNIST 2,000 / 80 / 200 images at 128 px, 3 readers of
# proficiency 0.8; the all-boxes baseline vs WBF + EARL, one seed, YOLOv5-n with the
# from-scratch recipe for 10 epochs: 4 min 19 s on a fast 2-core CPU, 6 min 20 s on an
# AVX2-only one (docs/speed.md).
_base_ = './_cpu_overrides.py'
data = dict(num_train=2000, num_val=80, num_test=200, img_size=128, seed=0)
arms = ['baseline', 'wbf_earl']
seeds = [0]
# Speed (docs/speed.md): channels-last weights make oneDNN's convolutions skip their
# layout reorders (YOLOv5-n's step 1.2x faster on 2 cores); the EMA as in the CPU scales.
# KeepFreedMemoryHook: glibc keeps freed activations in the heap rather than giving
# them back to the kernel to zero-fill again next iteration (AVX2 2-core machine: 16 M
# page faults and 54 s of kernel time -> 0.72 M and 10 s; 415 -> 380 s, the same table)
custom_hooks = [dict(type='KeepFreedMemoryHook'), dict(type='ChannelsLastHook'),
                dict(type='EMAHook', ema_type='BatchedExpMomentumEMA', momentum=0.005,
                     gamma=200, update_buffers=True, priority=49)]
# both arms train at once, one torch thread each: 1.2x the images per second of one
# 2-thread run on 2 cores, and each arm's start-up and test overlap the other's training
parallel_arms = 2
# the 2,000 training PNGs decoded once into memory (100 MB) rather than every epoch
train_dataloader = dict(dataset=dict(cache_images=True))
