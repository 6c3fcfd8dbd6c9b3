# EfficientDet-D3 trained with EARL on WBF-fused VinDr-CXR (the paper's method).
# Truth inference: WBF (iou 0.4) once at load time; each fused box's confidence
# (the readers' agreement) multiplies its targets' losses (EARL).
_base_ = [
    '../_base_/models/efficientdet_d3.py', '../_base_/datasets/vindr_cxr.py',
    '../_base_/schedules/schedule_adamw_constant_30e.py', '../_base_/default_runtime.py'
]
model = dict(bbox_head=dict(
    type='EARL', head_type='EfficientDetHead', num_classes=14,
    earl=dict(weight_mode='fraction', terms=('cls', 'box'), normalize=None)))
train_dataloader = dict(batch_size=8, dataset=dict(
    fusion=dict(type='WBF', iou_thr=0.4, skip_box_thr=0.0, conf_type='avg')))
default_hooks = dict(checkpoint=dict(save_best='coco/map_40', rule='greater'))
