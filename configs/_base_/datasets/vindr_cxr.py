# VinDr-CXR: convert the public CSVs first (see README, "Data"):
#   python tools/dataset_converters/vindr_cxr_to_coco.py train.csv --out \
#       data/vindr_cxr/annotations/train.json --images train_dicom/ \
#       --png-out data/vindr_cxr/images/train --val-fraction 0.1 --seed 0
#   python tools/dataset_converters/vindr_cxr_to_coco.py test.csv --test --out \
#       data/vindr_cxr/annotations/test.json --images test_dicom/ \
#       --png-out data/vindr_cxr/images/test
# 14 finding classes; "No finding" readers are absent votes in the train set and the
# VinBigData no-finding convention (class 14, box 0,0,1,1) applies in evaluation.
_base_ = './med_mnist.py'
data_root = 'data/vindr_cxr/'
classes = ('Aortic enlargement', 'Atelectasis', 'Calcification', 'Cardiomegaly',
           'Consolidation', 'ILD', 'Infiltration', 'Lung Opacity', 'Nodule/Mass',
           'Other lesion', 'Pleural effusion', 'Pleural thickening', 'Pneumothorax',
           'Pulmonary fibrosis')
img_scale = (640, 640)
train_pipeline = [
    dict(type='LoadImageCheckSize'),
    dict(type='LoadMultiReaderAnnotations', with_bbox=True),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='Pad', size=img_scale, pad_val=dict(img=(114, 114, 114))),
    dict(type='PackMultiReaderInputs'),
]
train_dataloader = dict(
    dataset=dict(data_root=data_root, metainfo=dict(classes=classes),
                 ann_file='annotations/train_train.json',
                 data_prefix=dict(img='images/train/'), pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(data_root=data_root, metainfo=dict(classes=classes),
                 ann_file='annotations/train_val.json', data_prefix=dict(img='images/train/')))
test_dataloader = dict(
    dataset=dict(data_root=data_root, metainfo=dict(classes=classes),
                 ann_file='annotations/test.json', data_prefix=dict(img='images/test/')))
# the validation split is multi-reader: score against its WBF-fused truth
val_evaluator = dict(ann_file=data_root + 'annotations/train_val.json',
                     gt_readers_fusion=dict(type='WBF', iou_thr=0.4),
                     no_finding=dict(enable=True, class_id=14))
test_evaluator = dict(ann_file=data_root + 'annotations/test.json',
                      no_finding=dict(enable=True, class_id=14))
