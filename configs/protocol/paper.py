# The paper's scale (Table 1), for a GPU: MED-MNIST 5,000 / 1,000 / 1,000 at 640 px,
# YOLOv5-S, every arm, 3 seeds, with the from-scratch recipe of configs/earl_yolo.py
# (AdamW one-cycle + EMA; no COCO-pretrained weights here. The paper's own SGD 1e-3
# fine-tuning schedule: configs/earl_yolo_paper.py / baseline_yolo_paper.py).
# GPU settings: mixed precision (train.py --amp, only when CUDA is present), batch 64,
# 8 persistent workers reading images decoded once into shared memory, and the LR
# scaled linearly from batch 64 (auto_scale_lr) when you change the batch or GPUs.
data = dict(num_train=5000, num_val=1000, num_test=1000, img_size=640, seed=0)
arms = ['truth', 'baseline', 'single_readers', 'readers_ensemble', 'wbf_earl',
        'reliability_wbf_earl']
seeds = [0, 1, 2]
max_epochs = 60
train_flags = dict(amp=True, auto_scale_lr=True)  # used only where CUDA is available
_loader = dict(num_workers=8, persistent_workers=True, pin_memory=True)
# overrides of every arm's config (mmmulti/protocol/scale.py)
train_dataloader = dict(batch_size=64, **_loader, dataset=dict(cache_images=True))
val_dataloader = dict(batch_size=64, **_loader)
test_dataloader = dict(batch_size=64, **_loader)
train_cfg = dict(max_epochs=max_epochs, val_interval=5)
auto_scale_lr = dict(enable=False, base_batch_size=64)
# one cycle over train_cfg.max_epochs, for the EfficientDet arms as well
param_scheduler = [dict(type='OneCycleLR', eta_max=3e-3, pct_start=0.1, anneal_strategy='cos',
                        div_factor=25.0, final_div_factor=100.0, by_epoch=True,
                        convert_to_iter_based=True)]
# ~80 iterations an epoch: an EMA horizon of ~10 % of the run
custom_hooks = [dict(type='EMAHook', ema_type='BatchedExpMomentumEMA', momentum=0.0001,
                     gamma=500, update_buffers=True, priority=49)]
default_hooks = dict(checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
ensemble = dict(iou_thr=0.4, skip_box_thr=0.0, conf_type='avg')
no_finding = dict(enable=True, class_id=14)
