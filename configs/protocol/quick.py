# Quick start (README): MED-MNIST-mini, the all-boxes baseline vs WBF + EARL,
# one seed, YOLOv5-n at 128 px: a few minutes on 2 CPU cores.
_base_ = './_cpu_overrides.py'
data = dict(num_train=400, num_val=80, num_test=200, img_size=128, seed=0)
arms = ['baseline', 'wbf_earl']
seeds = [0]
