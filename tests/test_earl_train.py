"""EARL inside whole detectors: two training steps per supported head, the
config-level switch, and the custom-head example config."""
import copy
import os.path as osp

import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmengine.registry import DefaultScope
from mmengine.structures import InstanceData

import mmmulti  # noqa: F401
from mmmulti.registry import MODELS

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
C = 3
GN = dict(type='GN', num_groups=4, requires_grad=True)
ANCHORS = dict(type='AnchorGenerator', octave_base_scale=4, scales_per_octave=1,
               ratios=[1.0], strides=[8, 16, 32])
ANCHOR_TRAIN = dict(
    assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.4, min_pos_iou=0,
                  ignore_iof_thr=-1),
    sampler=dict(type='PseudoSampler'), allowed_border=-1, pos_weight=-1, debug=False)
HEADS = dict(
    retina=(dict(type='RetinaHead', num_classes=C, in_channels=16, stacked_convs=1,
                 feat_channels=16, anchor_generator=ANCHORS,
                 bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[.0] * 4,
                                 target_stds=[1.0] * 4)), ANCHOR_TRAIN),
    atss=(dict(type='ATSSHead', num_classes=C, in_channels=16, stacked_convs=1,
               feat_channels=16, norm_cfg=GN, anchor_generator=ANCHORS,
               bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[.0] * 4,
                               target_stds=[0.1, 0.1, 0.2, 0.2]),
               loss_bbox=dict(type='GIoULoss', loss_weight=2.0)),
          dict(assigner=dict(type='ATSSAssigner', topk=9), allowed_border=-1, pos_weight=-1,
               debug=False)),
    fcos=(dict(type='FCOSHead', num_classes=C, in_channels=16, stacked_convs=1,
               feat_channels=16, norm_cfg=GN, strides=[8, 16, 32],
               regress_ranges=((-1, 16), (16, 32), (32, 1e8))), None),
    yolox=(dict(type='YOLOXHead', num_classes=C, in_channels=16, feat_channels=16,
                stacked_convs=1, strides=(8, 16, 32)),
           dict(assigner=dict(type='SimOTAAssigner', center_radius=2.5))),
    effdet=(dict(type='EfficientDetHead', num_classes=C, in_channels=16, stacked_convs=1,
                 num_levels=3, anchor_generator=ANCHORS), ANCHOR_TRAIN),
    yolov5=(dict(type='YOLOv5Head', num_classes=C, in_channels=(16, 16, 16),
                 train_size=64), None),
)
TEST_CFG = dict(nms_pre=100, min_bbox_size=0, score_thr=0.05,
                nms=dict(type='nms', iou_threshold=0.5), max_per_img=20)


def tiny_detector_cfg(name: str, earl=None) -> dict:
    head, train_cfg = copy.deepcopy(HEADS[name])
    if MODELS.get(head['type']) is None:
        pytest.skip(f'{head["type"]} is not registered')
    if earl is not None:
        head = dict(head, type='EARL', head_type=head['type'], earl=earl)
    return dict(
        type='RetinaNet' if name not in ('yolox', 'yolov5') else 'YOLOX',
        data_preprocessor=dict(type='DetDataPreprocessor', mean=[0, 0, 0],
                               std=[255, 255, 255], bgr_to_rgb=True, pad_size_divisor=32),
        backbone=dict(type='ResNet', depth=18, base_channels=8, num_stages=4,
                      out_indices=(1, 2, 3), frozen_stages=-1, norm_eval=False,
                      norm_cfg=dict(type='BN', requires_grad=True), style='pytorch',
                      init_cfg=None),
        neck=dict(type='FPN', in_channels=[16, 32, 64], out_channels=16, start_level=0,
                  num_outs=3),
        bbox_head=head, train_cfg=train_cfg, test_cfg=TEST_CFG)


def build(cfg: dict):
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmmulti'):
        return MODELS.build(cfg)


def batch(seed: int, confidences: bool = True) -> dict:
    """Two 64 px images with 2-3 boxes each, EARL weights c in (0, 1]."""
    g = torch.Generator().manual_seed(seed)
    inputs, samples = [], []
    for i in range(2):
        n = 2 + i
        xy = torch.rand(n, 2, generator=g) * 30
        wh = 12 + torch.rand(n, 2, generator=g) * 20
        gt = InstanceData(bboxes=torch.cat([xy, (xy + wh).clamp(max=63)], 1),
                          labels=torch.randint(0, C, (n, ), generator=g))
        if confidences:
            agreements = torch.randint(1, 4, (n, ), generator=g)
            gt.agreements = agreements
            gt.confidences = agreements.float() / 3
        s = DetDataSample(metainfo=dict(img_shape=(64, 64), ori_shape=(64, 64),
                                        pad_shape=(64, 64), scale_factor=(1.0, 1.0)))
        s.gt_instances = gt
        samples.append(s)
        inputs.append(torch.randint(0, 255, (3, 64, 64), generator=g, dtype=torch.uint8))
    return dict(inputs=inputs, data_samples=samples)


def train_two_steps(model, confidences=True):
    model.train()
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9))
    logs = [model.train_step(batch(seed, confidences), optim) for seed in (0, 1)]
    return logs


@pytest.mark.parametrize('name', list(HEADS))
def test_two_training_steps_with_earl(name):
    model = build(tiny_detector_cfg(name, earl=dict(weight_mode='fraction',
                                                    terms=('cls', 'box', 'obj'))))
    head = model.bbox_head
    assert type(head).__name__.startswith('EARL<')
    before = {k: v.clone() for k, v in model.state_dict().items()}
    logs = train_two_steps(model)
    for log in logs:
        assert all(torch.isfinite(v).all() for v in log.values()), log
    changed = [k for k, v in model.state_dict().items()
               if v.is_floating_point() and not torch.equal(v, before[k])]
    assert any(k.startswith('bbox_head.') for k in changed)
    if name != 'yolov5':  # the hook head applies the weights itself
        w = head.earl_last_pos_weights
        assert w.numel() > 0 and (w < 1).any(), 'EARL weights did not reach the loss'


@pytest.mark.parametrize('name', ['retina', 'yolox'])
def test_earl_with_unit_weights_trains_like_the_plain_detector(name):
    plain = build(tiny_detector_cfg(name))
    earl = build(tiny_detector_cfg(name, earl=dict()))
    earl.load_state_dict(plain.state_dict())
    logs_plain = train_two_steps(plain, confidences=False)
    logs_earl = train_two_steps(earl, confidences=False)
    for a, b in zip(logs_plain, logs_earl):
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    sd = earl.state_dict()
    assert all(torch.equal(v, sd[k]) for k, v in plain.state_dict().items())


def test_custom_head_example_config_builds_and_trains():
    cfg = Config.fromfile(osp.join(REPO, 'configs/examples/custom_head_earl.py'))
    assert cfg.model.bbox_head.type == 'EARL'
    model = build(cfg.model)
    head = model.bbox_head
    assert type(head).__name__ == 'EARL<SharedTowerRetinaHead>'
    assert head.earl_options.to_dict() == dict(weight_mode='fraction',
                                               terms=('cls', 'box', 'obj'), normalize=None)
    data = batch(0)
    for s in data['data_samples']:  # the example has 10 classes
        s.gt_instances.labels = s.gt_instances.labels + 5
    model.train()
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01))
    log = model.train_step(data, optim)
    assert set(log) >= {'loss_cls', 'loss_bbox'} and torch.isfinite(log['loss']).all()
    w = head.earl_last_pos_weights
    assert w.numel() > 0 and (w < 1).any()


@pytest.mark.slow  # ~25 s: a subprocess that imports the stack and trains 2 iterations
def test_train_tool_runs_the_custom_head_example(tiny_med_mnist, tmp_path):
    """As docs/guide_training.md shows: tools/train.py configs/examples/custom_head_earl.py"""
    import os
    import subprocess
    import sys
    from conftest import data_root_options
    root = tiny_med_mnist
    args = [sys.executable, 'tools/train.py', 'configs/examples/custom_head_earl.py',
            '--work-dir', str(tmp_path), '--cfg-options', *data_root_options(root)]
    proc = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, PYTHONPATH=REPO))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert "head_type='SharedTowerRetinaHead'" in out  # the config dump in the log
    assert 'loss_cls' in out
    assert osp.isfile(osp.join(str(tmp_path), 'iter_2.pth'))
