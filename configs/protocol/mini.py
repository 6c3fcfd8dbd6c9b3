# MED-MNIST-mini protocol on CPU: 2,000 / 150 / 300 images at 128 px, the clean-truth
# upper bound, the all-boxes baseline, WBF + EARL and reliability-WBF + EARL, YOLOv5-n
# with the quick start's from-scratch recipe, 3 training seeds: about 17 min a seed on
# a quiet 2-core CPU.
_base_ = './_cpu_overrides.py'
data = dict(num_train=2000, num_val=150, num_test=300, img_size=128, seed=0)
arms = ['truth', 'baseline', 'wbf_earl', 'reliability_wbf_earl']
seeds = [0, 1, 2]
