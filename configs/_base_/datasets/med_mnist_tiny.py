# MED-MNIST at tiny scale (64 px), WBF-fused at load, as the tests generate it with
#   python tools/dataset_converters/make_med_mnist.py --out data/med_mnist_tiny \
#       --num-train 16 --num-val 4 --num-test 4 --img-size 64
dataset_type = 'MultiAnnotatorCocoDataset'
data_root = 'data/med_mnist_tiny/'
classes = tuple(str(i) for i in range(10))
img_scale = (64, 64)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=dict(type=dataset_type, data_root=data_root, metainfo=dict(classes=classes),
                 ann_file='annotations/train_multi_reader.json',
                 data_prefix=dict(img='images/train/'),
                 fusion=dict(type='WBF', iou_thr=0.4),
                 filter_cfg=dict(filter_empty_gt=True, min_size=1),
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, metainfo=dict(classes=classes),
                 ann_file='annotations/val.json', data_prefix=dict(img='images/val/'),
                 test_mode=True, pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, metainfo=dict(classes=classes),
                 ann_file='annotations/test.json', data_prefix=dict(img='images/test/'),
                 test_mode=True, pipeline=test_pipeline))
val_evaluator = dict(type='MultiReaderDetMetric', ann_file=data_root + 'annotations/val.json')
test_evaluator = dict(type='MultiReaderDetMetric',
                      ann_file=data_root + 'annotations/test.json')
