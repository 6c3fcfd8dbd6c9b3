# YOLOv5-S schedule of the paper: 50 epochs, SGD, lr 1e-3, one-cycle.
max_epochs = 50
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=5)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=1e-3, momentum=0.937, weight_decay=5e-4, nesterov=True),
    clip_grad=dict(max_norm=10.0))
param_scheduler = [
    # one cycle over the whole run (mmengine ends it at train_cfg.max_epochs), stepped
    # every iteration
    dict(type='OneCycleLR', eta_max=1e-3, pct_start=0.1, anneal_strategy='cos',
         div_factor=25.0, final_div_factor=1e4, by_epoch=True, convert_to_iter_based=True),
]
auto_scale_lr = dict(enable=False, base_batch_size=16)
