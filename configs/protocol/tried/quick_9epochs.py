# Tried, not shipped (docs/speed.md): the quick start at 9 epochs instead of 10.
# Baseline fell to 0.952 / 0.666, under the 0.69 target on mAP[.5:.95].
#   python tools/run_protocol.py --scale configs/protocol/tried/quick_9epochs.py \
#       --data-root data/med_mnist_quick --work-dir work_dirs/tried_quick_9epochs
_base_ = '../quick.py'
max_epochs = 9
train_cfg = dict(max_epochs=max_epochs, val_interval=2)
default_hooks = dict(checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
