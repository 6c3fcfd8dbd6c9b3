# Upper bound: the baseline detector trained on MED-MNIST's clean boxes (the
# simulator's truth, annotations/train.json) instead of the readers' boxes.
# The protocol's `truth` arm; no reader data goes in, so no fusion.
_base_ = './baseline_yolo.py'
train_dataloader = dict(dataset=dict(ann_file='annotations/train.json', fusion=None))
