# EARL on presence-weighted soft-label WBF (MED-MNIST): the clusters of SoftWBF
# (readers' boxes of every class, iou 0.4), class target the readers' vote shares,
# and as confidence the posterior that the finding is real given which readers drew
# it (each reader's sensitivity and share of made-up boxes estimated by EM over the
# training set, mmmulti/fusion/presence.py); clusters more likely spurious than real
# (posterior < 0.5) are dropped and train as background. The protocol's
# `presence_earl` arm.
_base_ = './earl_yolo.py'
train_dataloader = dict(dataset=dict(
    fusion=dict(_delete_=True, type='PresenceWBF', iou_thr=0.4, min_confidence=0.5)))
