# MED-MNIST-mini protocol on CPU: baseline vs WBF + EARL (add arms with --arms),
# YOLOv5-n at 128 px, 20 epochs: about 15 min a seed on a quiet 2-core CPU (<= 45 min).
_base_ = './_cpu_overrides.py'
data = dict(num_train=600, num_val=120, num_test=300, img_size=128, seed=0)
arms = ['baseline', 'wbf_earl']
seeds = [0]
cfg = dict(common=dict(train_cfg=dict(max_epochs=20, val_interval=20),
                       param_scheduler=[dict(type='OneCycleLR', eta_max=0.01, pct_start=0.15,
                                     anneal_strategy='cos', div_factor=25.0,
                                     final_div_factor=100.0, by_epoch=True,
                                     convert_to_iter_based=True, begin=0,
                                     end=20, total_steps=20)],
                       default_hooks=dict(checkpoint=dict(interval=20))))
