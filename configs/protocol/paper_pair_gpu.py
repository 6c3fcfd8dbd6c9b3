# The paper's MED-MNIST pair on one GPU within a 15-minute budget: baseline and
# WBF + EARL, 5,000 / 1,000 / 1,000 images at 640 px, YOLOv5-S, one seed, the GPU
# settings of paper.py with 30 epochs instead of 60. Run by benchmarks/gpu_paper_pair.sh,
# which trains both arms at once on the one GPU.
_base_ = './paper.py'
arms = ['baseline', 'wbf_earl']
seeds = [0]
max_epochs = 30
train_cfg = dict(max_epochs=max_epochs, val_interval=5)
param_scheduler = [dict(type='OneCycleLR', eta_max=3e-3, pct_start=0.1, anneal_strategy='cos',
                        div_factor=25.0, final_div_factor=100.0, by_epoch=True,
                        convert_to_iter_based=True, begin=0, end=max_epochs,
                        total_steps=max_epochs)]
custom_hooks = [dict(type='EMAHook', ema_type='BatchedExpMomentumEMA', momentum=0.0001,
                     gamma=250, update_buffers=True, priority=49)]
default_hooks = dict(checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
