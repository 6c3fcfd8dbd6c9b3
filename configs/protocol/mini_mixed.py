# MED-MNIST-mini with the 'mixed' reader profiles (mmmulti/simulation/profiles.py):
#   python tools/run_protocol.py --scale configs/protocol/mini_mixed.py
_base_ = './mini.py'
data = dict(preset='mixed')
arms = ['truth', 'baseline', 'wbf_earl', 'allboxes_earl', 'soft_wbf_earl',
        'reliability_wbf_earl', 'dawid_skene_earl', 'presence_earl', 'calibrated_earl',
        'reader_model_earl']
