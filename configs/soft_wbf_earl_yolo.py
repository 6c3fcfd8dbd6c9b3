# EARL on soft-label WBF (MED-MNIST): the readers' boxes are clustered whatever
# their class (fusion `SoftWBF`, iou 0.4); each fused box is weighted by its
# agreement c and its class target is the readers' vote distribution in the
# cluster (two readers say 3, one says 8: 3 -> 2/3, 8 -> 1/3) instead of one
# class. The protocol's `soft_wbf_earl` arm.
_base_ = './earl_yolo.py'
train_dataloader = dict(dataset=dict(
    fusion=dict(_delete_=True, type='SoftWBF', iou_thr=0.4)))
