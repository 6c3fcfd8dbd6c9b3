"""EfficientDet-style detector: BiFPN fusion, shared-conv head, sizes, build/train/predict."""
import os.path as osp

import pytest
import torch
import torch.nn as nn
from mmdet.models.dense_heads import AnchorHead
from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

import mmmulti.models.backbones  # noqa: F401  (register)
import mmmulti.models.dense_heads  # noqa: F401
import mmmulti.models.necks  # noqa: F401
from mmmulti.models.dense_heads import EfficientDetHead
from mmmulti.models.necks import BiFPN
from mmmulti.models.necks.bifpn import FastFusionNode
from mmmulti.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CFG_DIR = osp.join(ROOT, 'configs', '_base_', 'models')
PAPER_PARAMS_M = {0: 3.9, 1: 6.6, 2: 8.1, 3: 12.0, 4: 20.7}  # EfficientDet paper, Table 2


def build_cfg(name: str, num_classes: int = 90):
    init_default_scope('mmmulti')
    cfg = Config.fromfile(osp.join(CFG_DIR, name))
    cfg.model.bbox_head.num_classes = num_classes
    return MODELS.build(cfg.model)


@pytest.mark.parametrize('d', [0, 1, 2, 3, 4])
def test_param_counts_match_paper(d):
    n = sum(p.numel() for p in build_cfg(f'efficientdet_d{d}.py').parameters())
    assert abs(n / 1e6 - PAPER_PARAMS_M[d]) / PAPER_PARAMS_M[d] < 0.02, n


def test_fast_normalised_fusion():
    node = FastFusionNode(3, 4, norm_cfg=dict(type='BN'), act_cfg=dict(type='SiLU'))
    node.conv, node.act = nn.Identity(), nn.Identity()
    with torch.no_grad():
        node.weight.copy_(torch.tensor([-1.0, 2.0, 3.0]))
    xs = [torch.full((1, 4, 2, 2), v) for v in (7.0, 1.0, 2.0)]
    # ReLU drops the negative weight; the rest are divided by their sum + 1e-4
    expected = (0 * 7.0 + 2.0 * 1.0 + 3.0 * 2.0) / (5.0 + 1e-4)
    assert torch.allclose(node(xs), torch.full((1, 4, 2, 2), expected))


def test_bifpn_levels_and_first_stage_resampling():
    neck = BiFPN([8, 16, 32], out_channels=16, num_stages=2, num_outs=5)
    feats = [torch.rand(2, c, 32 // 2 ** i, 32 // 2 ** i) for i, c in enumerate([8, 16, 32])]
    outs = neck(feats)
    assert [tuple(o.shape) for o in outs] == [(2, 16, s, s) for s in (32, 16, 8, 4, 2)]
    # P4 and P5 are resampled separately for the top-down and the bottom-up node
    assert neck.td_resample[1] is not neck.bu_resample[1]
    assert isinstance(neck.bu_resample[0], nn.Identity)
    # a stage: 4 top-down nodes (2 inputs), 4 bottom-up nodes (3 inputs, top: 2)
    stage = neck.stages[0]
    assert [n.weight.numel() for n in stage.td_nodes] == [2, 2, 2, 2]
    assert [n.weight.numel() for n in stage.bu_nodes] == [3, 3, 3, 2]


def test_head_shares_convs_across_levels_with_per_level_bn():
    head = EfficientDetHead(num_classes=4, in_channels=16, stacked_convs=3,
                            train_cfg=None)
    assert len(head.cls_convs) == 3 and all(len(b) == 5 for b in head.cls_bns)
    assert head.num_base_priors == 9
    # the target / loss path is AnchorHead's own (EARL's AnchorHead adapter relies on it)
    for name in ('_get_targets_single', 'get_targets', 'loss_by_feat_single', 'loss_by_feat'):
        assert getattr(EfficientDetHead, name) is getattr(AnchorHead, name)
    # same input at every level: outputs differ only through the per-level BNs
    head.eval()
    x = torch.rand(2, 16, 4, 4)
    cls, _ = head([x] * 5)
    assert torch.allclose(cls[0], cls[1])  # shared convs, identical fresh BNs
    with torch.no_grad():
        head.cls_bns[0][1].weight.mul_(2.0)
    cls2, _ = head([x] * 5)
    assert torch.allclose(cls2[0], cls[0]) and not torch.allclose(cls2[1], cls[1])
    # anchors: octave base scale 4 -> 32 px square anchor at stride 8, 3 scales x 3 ratios
    base = head.prior_generator.base_anchors[0]
    sizes = (base[:, 2] - base[:, 0]) * (base[:, 3] - base[:, 1])
    assert torch.allclose(sizes.sqrt().max(), torch.tensor(32 * 2 ** (2 / 3)), rtol=1e-4)
    assert torch.allclose(sizes.sqrt().min(), torch.tensor(32.0), rtol=1e-3)


def make_batch(num_images, size, with_gt=True):
    inputs, samples = [], []
    g = torch.Generator().manual_seed(0)
    for _ in range(num_images):
        inputs.append(torch.randint(0, 256, (3, size, size), dtype=torch.uint8, generator=g))
        ds = DetDataSample(metainfo=dict(img_shape=(size, size), ori_shape=(size, size),
                                         scale_factor=(1.0, 1.0), pad_shape=(size, size)))
        if with_gt:
            ds.gt_instances = InstanceData(
                bboxes=torch.tensor([[4.0, 6.0, 60.0, 70.0], [50.0, 40.0, 120.0, 110.0]]),
                labels=torch.tensor([1, 0]))
        samples.append(ds)
    return dict(inputs=inputs, data_samples=samples)


def test_efficientdet_d0_builds_trains_and_predicts():
    model = build_cfg('efficientdet_d0.py', num_classes=3)
    data = model.data_preprocessor(make_batch(2, 128), True)
    assert data['inputs'].shape[-1] % 128 == 0
    losses = model.loss(data['inputs'], data['data_samples'])
    total = sum(sum(v) for v in losses.values())
    assert torch.isfinite(total) and total > 0
    total.backward()
    assert model.neck.stages[0].td_nodes[0].weight.grad is not None
    assert model.bbox_head.cls_convs[0].depthwise.weight.grad is not None
    model.eval()
    with torch.no_grad():
        data = model.data_preprocessor(make_batch(1, 128, with_gt=False), False)
        results = model.predict(data['inputs'], data['data_samples'])
    inst = results[0].pred_instances
    assert inst.bboxes.shape[1] == 4 and len(inst) <= 100
