# EARL on a fitted model of every reader (MED-MNIST): PresenceWBF with every part of
# the reader model on -- each reader's systematic box bias (scale, shift) undone and
# its box noise estimated against the other readers, coordinates averaged with
# weights 1 / noise variance, the class target the Dawid-Skene posterior (class
# confusion per reader), and as confidence the posterior that the finding is real
# (sensitivity and made-up boxes per reader); likely made-up boxes dropped.
# mmmulti/fusion/presence.py, reader_bias.py. The protocol's `reader_model_earl` arm.
_base_ = './earl_yolo.py'
train_dataloader = dict(dataset=dict(
    fusion=dict(_delete_=True, type='PresenceWBF', iou_thr=0.4, min_confidence=0.5,
                correct_bias=True, precision_weights=True, class_target='dawid_skene')))
