# MED-MNIST-mini protocol on CPU: 600 / 120 / 300 images at 128 px, the clean-truth
# upper bound, the all-boxes baseline, WBF + EARL and reliability-WBF + EARL, YOLOv5-n
# with the from-scratch recipe for 40 epochs: about 20 min a seed on a quiet 2-core CPU.
_base_ = './_cpu_overrides.py'
data = dict(num_train=600, num_val=120, num_test=300, img_size=128, seed=0)
arms = ['truth', 'baseline', 'wbf_earl', 'reliability_wbf_earl']
seeds = [0]
_epochs = 40
cfg = dict(common=dict(train_cfg=dict(max_epochs=_epochs, val_interval=5),
                       param_scheduler=[dict(type='OneCycleLR', eta_max=3e-3, pct_start=0.1,
                                             anneal_strategy='cos', div_factor=25.0,
                                             final_div_factor=100.0, by_epoch=True,
                                             convert_to_iter_based=True, begin=0,
                                             end=_epochs, total_steps=_epochs)],
                       default_hooks=dict(checkpoint=dict(interval=_epochs))))
