# The mini recipe (4,000 images x 9 epochs, checkpoint on validation mAP[.5:.95]) on data it was not
# tuned on: another simulator seed (7) and weaker readers (proficiency 0.7 instead of
# 0.8); same sizes and training; baseline and WBF + EARL, one training seed.
#   python tools/run_protocol.py --scale configs/protocol/mini_heldout.py
_base_ = './mini.py'
data = dict(seed=7, proficiency=0.7)
arms = ['baseline', 'wbf_earl']
seeds = [0]
