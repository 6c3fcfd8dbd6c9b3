# Quick start (README): MED-MNIST 2,000 / 80 / 200 images at 128 px, 3 readers of
# proficiency 0.8; the all-boxes baseline vs WBF + EARL, one seed, YOLOv5-n with the
# from-scratch recipe for 10 epochs: under 10 minutes on 2 CPU cores.
_base_ = './_cpu_overrides.py'
data = dict(num_train=2000, num_val=80, num_test=200, img_size=128, seed=0)
arms = ['baseline', 'wbf_earl']
seeds = [0]
