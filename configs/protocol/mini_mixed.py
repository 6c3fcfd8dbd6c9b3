# MED-MNIST-mini with the 'mixed' reader profiles (mmmulti/simulation/profiles.py):
#   python tools/run_protocol.py --scale configs/protocol/mini_mixed.py
_base_ = './mini.py'
data = dict(preset='mixed')
