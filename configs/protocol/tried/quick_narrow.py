# Tried, not shipped (docs/speed.md): a narrower YOLOv5 than -n (widen factor 0.1875
# instead of 0.25: 1.0 M parameters instead of 1.8 M). The quick start 380 -> 312 s on
# an AVX2 2-core machine, but baseline 0.892 / 0.632 and WBF+EARL 0.935 / 0.687 fell
# under the targets (0.94 / 0.69, 0.96 / 0.72).
#   python tools/run_protocol.py --scale configs/protocol/tried/quick_narrow.py \
#       --data-root data/med_mnist_quick --work-dir work_dirs/tried_quick_narrow
_base_ = '../quick.py'
_w = 0.1875
detector_overrides = dict(yolo=dict(
    widen_factor=_w,
    model=dict(backbone=dict(widen_factor=_w), neck=dict(widen_factor=_w),
               bbox_head=dict(widen_factor=_w))))
