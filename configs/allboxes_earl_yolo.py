# EARL on every reader's box (MED-MNIST): each box stays a target, as in the
# all-boxes baseline, weighted by the agreement of the WBF cluster (iou 0.4) it
# falls in (fusion `AllBoxesAgreement`). The protocol's `allboxes_earl` arm.
_base_ = './earl_yolo.py'
train_dataloader = dict(dataset=dict(
    fusion=dict(_delete_=True, type='AllBoxesAgreement', iou_thr=0.4)))
