# EARL on calibrated WBF (MED-MNIST): WBF's clusters and boxes (per class, iou 0.4),
# each weighted by the posterior that it is a real finding of its class, from every
# reader's sensitivity and made-up-box share fitted by EM over the training set and
# each reader's coincidence rate measured on other images
# (mmmulti/fusion/calibrated.py, reader_rates.py). Every cluster is kept: a
# likely-spurious box trains with a small weight. The protocol's `calibrated_earl` arm.
_base_ = './earl_yolo.py'
train_dataloader = dict(dataset=dict(
    fusion=dict(_delete_=True, type='CalibratedWBF', iou_thr=0.4)))
