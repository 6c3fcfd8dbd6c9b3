# Single-reader model: EfficientDet-D3 on one reader's boxes (VinDr-CXR). Also a
# readers-ensemble member: train one per reader, then fuse their predictions
# with tools/ensemble.py. Another reader:
#   python tools/train.py configs/vindr/single_reader_efficientdet_d3.py \
#       --cfg-options train_dataloader.dataset.readers="['R2']"
_base_ = './baseline_efficientdet_d3.py'
train_dataloader = dict(dataset=dict(readers=['R8']))
