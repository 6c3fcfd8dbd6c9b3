# From-scratch recipe for the YOLOv5-style detectors (no pretrained weights exist
# here): AdamW with one-cycle LR (the first 10 % is the warm-up), gradient
# clipping, and an exponential-momentum EMA of the weights that validation and
# the saved checkpoints use. Measured on MED-MNIST (docs/recipes.md):
# SGD at the paper's 1e-3 barely moves a randomly initialised YOLOv5 in 50
# epochs; AdamW 3e-3 converges several times faster and EMA steadies the
# best-on-val pick. The paper's SGD schedule stays in schedule_sgd_onecycle_50e.py.
max_epochs = 60
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=5)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='OptimWrapper',
    # no decay on norm layers and biases (YOLOv5's parameter groups) in two groups,
    # so that the fused AdamW kernel steps all tensors at once
    constructor='DecayGroupsOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=3e-3, betas=(0.9, 0.999), weight_decay=0.05,
                   fused=True),
    clip_grad=dict(max_norm=10.0))
# No `end` / `total_steps`: mmengine's runner ends the cycle at `train_cfg.max_epochs`,
# so `--cfg-options train_cfg.max_epochs=30` (or a protocol scale) shortens the whole
# cycle, warm-up and annealing included, instead of cutting a 60-epoch cycle at epoch 30.
param_scheduler = [
    dict(type='OneCycleLR', eta_max=3e-3, pct_start=0.1, anneal_strategy='cos',
         div_factor=25.0, final_div_factor=100.0, by_epoch=True, convert_to_iter_based=True),
]
# YOLOv5's weight EMA (mmdet's ExpMomentumEMA formula, batched update): the weight of
# the current model is (1 - m) * exp(-iter / gamma) + m with YOLOv5's m = 0.0001.
# gamma = 2000 suits runs of 10^4+ iterations; the CPU scales shorten it.
custom_hooks = [
    dict(type='EMAHook', ema_type='BatchedExpMomentumEMA', momentum=0.0001, gamma=2000,
         update_buffers=True, priority=49),
]
auto_scale_lr = dict(enable=False, base_batch_size=16)
