# The paper's setting (Table 1), for a GPU: MED-MNIST 5,000 / 1,000 / 1,000 at 640 px,
# YOLOv5-S, 50 epochs, SGD lr 1e-3 one-cycle (configs/earl_yolo.py as is), every arm.
data = dict(num_train=5000, num_val=1000, num_test=1000, img_size=640, seed=0)
arms = ['baseline', 'single_readers', 'readers_ensemble', 'wbf_earl', 'reliability_wbf_earl']
seeds = [0, 1, 2]
ensemble = dict(iou_thr=0.4, skip_box_thr=0.0, conf_type='avg')
cfg = dict(common=dict())
no_finding = dict(enable=True, class_id=14)
