# VinDr-CXR as a dataset base: MED-MNIST's loaders and evaluator with the VinDr-CXR
# data of ./vindr_cxr_data.py (files, 14 classes, horizontal flips, WBF-fused
# multi-reader validation truth, the no-finding convention). Conversion: see there.
_base_ = ['./med_mnist.py', './vindr_cxr_data.py']
data_root = 'data/vindr_cxr/'
classes = {{_base_.vindr_cxr.train_dataloader.dataset.metainfo.classes}}
train_dataloader = {{_base_.vindr_cxr.train_dataloader}}
val_dataloader = {{_base_.vindr_cxr.val_dataloader}}
test_dataloader = {{_base_.vindr_cxr.test_dataloader}}
val_evaluator = {{_base_.vindr_cxr.val_evaluator}}
test_evaluator = {{_base_.vindr_cxr.test_evaluator}}
