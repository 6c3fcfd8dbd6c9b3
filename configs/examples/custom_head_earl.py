# Your own dense head, trained with EARL: the tiny RetinaNet with its head
# replaced by projects/example_head's SharedTowerRetinaHead, decorated by EARL.
#   python tools/train.py configs/examples/custom_head_earl.py
# (from the repository root; with a non-editable install add PYTHONPATH=.)
_base_ = ['../tiny/retinanet_tiny_med_mnist.py']
custom_imports = dict(imports=['mmmulti', 'projects.example_head'],
                      allow_failed_imports=False)
model = dict(bbox_head=dict(
    type='EARL', head_type='SharedTowerRetinaHead',
    earl=dict(weight_mode='fraction', terms=('cls', 'box', 'obj'), normalize=None)))
