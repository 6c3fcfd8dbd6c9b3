# MED-MNIST at tiny scale (64 px), WBF-fused at load, as the tests generate it with
#   python tools/dataset_converters/make_med_mnist.py --out data/med_mnist_tiny \
#       --num-train 16 --num-val 4 --num-test 4 --img-size 64
# Everything else (dataset type, annotation files, metric) as configs/_base_/datasets/med_mnist.py.
_base_ = './med_mnist.py'
data_root = 'data/med_mnist_tiny/'
img_scale = (64, 64)

train_pipeline = [
    dict(type='LoadImageCheckSize'),
    dict(type='LoadMultiReaderAnnotations', with_bbox=True),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='PackMultiReaderInputs'),
]
test_pipeline = [
    dict(type='LoadImageCheckSize'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='LoadMultiReaderAnnotations', with_bbox=True),
    dict(type='PackMultiReaderInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
_loader = dict(num_workers=0, persistent_workers=False)
train_dataloader = dict(
    batch_size=2, **_loader,
    dataset=dict(data_root=data_root, filter_cfg=dict(filter_empty_gt=True, min_size=1),
                 pipeline=train_pipeline))
val_dataloader = dict(batch_size=2, **_loader,
                      dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = dict(batch_size=2, **_loader,
                       dataset=dict(data_root=data_root, pipeline=test_pipeline))
val_evaluator = dict(ann_file=data_root + 'annotations/val.json')
test_evaluator = dict(ann_file=data_root + 'annotations/test.json')
