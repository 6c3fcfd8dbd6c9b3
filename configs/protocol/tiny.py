# CI scale: proves the whole protocol end to end in about a minute (numbers are noise).
_base_ = './_cpu_overrides.py'
data = dict(num_train=12, num_val=4, num_test=6, img_size=64, seed=0, progress=False)
arms = ['truth', 'baseline', 'wbf_earl', 'reliability_wbf_earl', 'allboxes_earl', 'soft_wbf_earl',
        'dawid_skene_earl', 'presence_earl', 'calibrated_earl', 'reader_model_earl', 'single_readers',
        'readers_ensemble']
seeds = [0]
max_epochs = 1
train_cfg = dict(max_epochs=max_epochs, val_interval=1)
param_scheduler = [dict(type='OneCycleLR', eta_max=0.01, pct_start=0.15, anneal_strategy='cos',
                        div_factor=25.0, final_div_factor=100.0, by_epoch=True,
                        convert_to_iter_based=True)]
train_dataloader = dict(batch_size=4)
default_hooks = dict(checkpoint=dict(interval=max_epochs))
detector_overrides = dict(yolo=dict(model=dict(bbox_head=dict(train_size=64))))
