# More images, fewer epochs: 4,000 training images for 4 epochs (1,000 iterations)
# instead of 2,000 for 10 (1,250); the first 2,000 images and the val and test
# images are the quick start's own (the simulator seeds each image by its index).
#   python tools/run_protocol.py --scale configs/protocol/tried/quick_4000x4.py \
#       --data-root data/med_mnist_quick_4000 --work-dir work_dirs/tried_quick_4000x4
_base_ = '../quick.py'
data = dict(num_train=4000)
max_epochs = 4
train_cfg = dict(max_epochs=max_epochs, val_interval=1)
default_hooks = dict(checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
