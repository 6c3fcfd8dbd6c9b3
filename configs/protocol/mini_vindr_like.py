# MED-MNIST-mini with the 'vindr_like' reader profiles (mmmulti/simulation/profiles.py):
#   python tools/run_protocol.py --scale configs/protocol/mini_vindr_like.py
_base_ = './mini.py'
data = dict(preset='vindr_like')
arms = ['truth', 'baseline', 'wbf_earl', 'allboxes_earl', 'soft_wbf_earl',
        'reliability_wbf_earl', 'dawid_skene_earl', 'presence_earl', 'calibrated_earl',
        'reader_model_earl']
