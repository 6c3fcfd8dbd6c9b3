# EARL on WBF-fused boxes (the paper's method), YOLOv5-S, on VinDr-CXR:
# ../earl_yolo.py with the VinDr-CXR data (14 finding classes) in place of MED-MNIST's.
_base_ = ['../earl_yolo.py', '../_base_/datasets/vindr_cxr_data.py']
model = dict(bbox_head=dict(num_classes={{_base_.vindr_cxr.num_classes}}))
train_dataloader = {{_base_.vindr_cxr.train_dataloader}}
val_dataloader = {{_base_.vindr_cxr.val_dataloader}}
test_dataloader = {{_base_.vindr_cxr.test_dataloader}}
val_evaluator = {{_base_.vindr_cxr.val_evaluator}}
test_evaluator = {{_base_.vindr_cxr.test_evaluator}}
