# EARL on Dawid-Skene soft labels (MED-MNIST): the clusters of SoftWBF (readers'
# boxes of every class, iou 0.4), each fused box weighted by its agreement c, its
# class target the Dawid-Skene posterior: every reader's class confusion matrix and
# the class prior estimated by EM over the training set. The protocol's
# `dawid_skene_earl` arm.
_base_ = './earl_yolo.py'
train_dataloader = dict(dataset=dict(
    fusion=dict(_delete_=True, type='DawidSkeneWBF', iou_thr=0.4)))
