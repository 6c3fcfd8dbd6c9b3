# Single-reader model: YOLOv5-S on one reader's boxes (MED-MNIST). Also a
# readers-ensemble member: train one per reader, then fuse their predictions
# with tools/ensemble.py. Another reader:
#   python tools/train.py configs/single_reader_yolo.py \
#       --cfg-options train_dataloader.dataset.readers="['R2']"
_base_ = './baseline_yolo.py'
train_dataloader = dict(dataset=dict(readers=['R1']))
