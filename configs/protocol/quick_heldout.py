# The quick start's recipe on data it was not tuned on: another simulator seed (7)
# and weaker readers (proficiency 0.7 instead of 0.8); same sizes, arms and training.
#   python tools/run_protocol.py --scale configs/protocol/quick_heldout.py
_base_ = './quick.py'
data = dict(seed=7, proficiency=0.7)
