# The paper's MED-MNIST pair on one GPU within a 10-minute budget: baseline and
# WBF + EARL, 5,000 / 1,000 / 1,000 images at 640 px, YOLOv5-S, one seed, 50 epochs,
# the GPU settings of paper.py (AMP, batch 64, images decoded once into memory).
# Run by benchmarks/gpu_paper_pair.sh, which trains both arms at once on the one GPU.
_base_ = './paper.py'
arms = ['baseline', 'wbf_earl']
seeds = [0]
max_epochs = 50
train_cfg = dict(max_epochs=max_epochs, val_interval=10)  # the one-cycle LR follows it
# ~80 iterations an epoch, 4,000 in all: an EMA horizon of ~10 % of the run
custom_hooks = [dict(type='EMAHook', ema_type='BatchedExpMomentumEMA', momentum=0.0001,
                     gamma=400, update_buffers=True, priority=49)]
default_hooks = dict(checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
