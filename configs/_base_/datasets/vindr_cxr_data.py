# VinDr-CXR data as one dict, `vindr_cxr`, so that an experiment config can swap it in
# for MED-MNIST's (configs/vindr/*.py):
#   _base_ = ['../earl_yolo.py', '../_base_/datasets/vindr_cxr_data.py']
#   train_dataloader = {{_base_.vindr_cxr.train_dataloader}}  # merged over MED-MNIST's
# configs/_base_/datasets/vindr_cxr.py is the same data as an ordinary dataset base.
# Convert the public CSVs first (see README.md, "Convert VinDr-CXR", and docs/guide_data_fusion.md):
#   python tools/dataset_converters/vindr_cxr_to_coco.py train.csv --out \
#       data/vindr_cxr/annotations/train.json --images train_dicom/ \
#       --png-out data/vindr_cxr/images/train --val-fraction 0.1 --seed 0
#   python tools/dataset_converters/vindr_cxr_to_coco.py test.csv --test --out \
#       data/vindr_cxr/annotations/test.json --images test_dicom/ \
#       --png-out data/vindr_cxr/images/test
# 14 finding classes; "No finding" readers are absent votes in the train set and the
# VinBigData no-finding convention (class 14, box 0,0,1,1) applies in evaluation.
_root = 'data/vindr_cxr/'
_classes = ('Aortic enlargement', 'Atelectasis', 'Calcification', 'Cardiomegaly',
            'Consolidation', 'ILD', 'Infiltration', 'Lung Opacity', 'Nodule/Mass',
            'Other lesion', 'Pleural effusion', 'Pleural thickening', 'Pneumothorax',
            'Pulmonary fibrosis')
_scale = (640, 640)
vindr_cxr = dict(
    num_classes=len(_classes),
    train_dataloader=dict(dataset=dict(
        data_root=_root, metainfo=dict(classes=_classes),
        ann_file='annotations/train_train.json', data_prefix=dict(img='images/train/'),
        pipeline=[
            dict(type='LoadImageCheckSize'),
            dict(type='LoadMultiReaderAnnotations', with_bbox=True),
            dict(type='Resize', scale=_scale, keep_ratio=True),
            dict(type='RandomFlip', prob=0.5),
            dict(type='Pad', size=_scale, pad_val=dict(img=(114, 114, 114))),
            dict(type='PackMultiReaderInputs'),
        ])),
    val_dataloader=dict(dataset=dict(
        data_root=_root, metainfo=dict(classes=_classes),
        ann_file='annotations/train_val.json', data_prefix=dict(img='images/train/'))),
    test_dataloader=dict(dataset=dict(
        data_root=_root, metainfo=dict(classes=_classes),
        ann_file='annotations/test.json', data_prefix=dict(img='images/test/'))),
    # the validation split is multi-reader: score against its WBF-fused truth
    val_evaluator=dict(ann_file=_root + 'annotations/train_val.json',
                       gt_readers_fusion=dict(type='WBF', iou_thr=0.4),
                       no_finding=dict(enable=True, class_id=14)),
    test_evaluator=dict(ann_file=_root + 'annotations/test.json',
                        no_finding=dict(enable=True, class_id=14)),
)
