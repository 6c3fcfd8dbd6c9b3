# CPU dry run of benchmarks/gpu_paper_pair.sh (`--dry-run`, part of the tests): the
# GPU pair's settings (640 px, YOLOv5-S) on a few images for one epoch, so the script
# cannot rot.
# The figures are noise; only that every stage runs and records is checked.
_base_ = './paper_pair_gpu.py'
data = dict(num_train=8, num_val=4, num_test=4, img_size=640, seed=0, progress=False)
max_epochs = 1
train_cfg = dict(max_epochs=max_epochs, val_interval=1)
_loader = dict(num_workers=0, persistent_workers=False, pin_memory=False)
train_dataloader = dict(batch_size=4, **_loader)
val_dataloader = dict(batch_size=4, **_loader)
test_dataloader = dict(batch_size=4, **_loader)
default_hooks = dict(checkpoint=dict(interval=max_epochs))
