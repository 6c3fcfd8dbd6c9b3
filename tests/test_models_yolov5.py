"""YOLOv5-style detector: architecture size, loss by hand, EARL hook, build/predict."""
import copy
import math
import os.path as osp

import numpy as np
import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

import mmmulti.models.backbones  # noqa: F401  (register)
import mmmulti.models.dense_heads  # noqa: F401
import mmmulti.models.necks  # noqa: F401
from mmmulti.models.dense_heads import YOLOv5Head
from mmmulti.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CFG_DIR = osp.join(ROOT, 'configs', '_base_', 'models')


def num_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def build_cfg(name: str, num_classes: int = 80):
    init_default_scope('mmmulti')
    cfg = Config.fromfile(osp.join(CFG_DIR, name))
    cfg.model.bbox_head.num_classes = num_classes
    return MODELS.build(cfg.model)


# ----------------------------------------------------------------------------- size
def test_yolov5s_param_count_matches_reference():
    # reference YOLOv5s (v6.0-v7.0) model summary: 7,235,389 parameters at 80 classes
    n = num_params(build_cfg('yolov5_s.py'))
    assert abs(n - 7.2e6) / 7.2e6 < 0.02
    assert n == 7_235_389


@pytest.mark.parametrize('size,published_m', [('n', 1.9), ('m', 21.2), ('l', 46.5), ('x', 86.7)])
def test_yolov5_other_sizes_param_counts(size, published_m):
    n = num_params(build_cfg(f'yolov5_{size}.py'))
    assert abs(n / 1e6 - published_m) / published_m < 0.02, n


def test_backbone_is_v6_layout():
    from mmmulti.models.backbones import YOLOv5CSPDarknet
    bb = YOLOv5CSPDarknet(deepen_factor=0.33, widen_factor=0.5)
    assert bb.stem.conv.kernel_size == (6, 6) and bb.stem.conv.stride == (2, 2)
    depths = [len(getattr(bb, f'stage{i}')[1].blocks) for i in range(1, 5)]
    assert depths == [1, 2, 3, 1]  # 3-6-9-3 x 0.33
    assert type(bb.stage4[-1]).__name__ == 'SPPF'
    outs = bb(torch.rand(1, 3, 64, 64))
    assert [tuple(o.shape[1:]) for o in outs] == [(128, 8, 8), (256, 4, 4), (512, 2, 2)]


# ------------------------------------------------------------------ loss by hand
def np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


def np_bce_logits(x, t):
    return np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x)))


def np_ciou(p, t, eps=1e-7):
    """CIoU of (cx, cy, w, h) pairs, written from the CIoU paper's definition."""
    p1, p2 = p[:, :2] - p[:, 2:] / 2, p[:, :2] + p[:, 2:] / 2
    t1, t2 = t[:, :2] - t[:, 2:] / 2, t[:, :2] + t[:, 2:] / 2
    iw = np.clip(np.minimum(p2, t2) - np.maximum(p1, t1), 0, None)
    inter = iw[:, 0] * iw[:, 1]
    union = p[:, 2] * p[:, 3] + t[:, 2] * t[:, 3] - inter + eps
    iou = inter / union
    c = np.maximum(p2, t2) - np.minimum(p1, t1)
    c2 = (c ** 2).sum(1) + eps
    rho2 = ((p[:, :2] - t[:, :2]) ** 2).sum(1)
    v = 4 / math.pi ** 2 * (np.arctan(t[:, 2] / t[:, 3]) - np.arctan(p[:, 2] / p[:, 3])) ** 2
    alpha = v / (v - iou + 1 + eps)
    return iou - rho2 / c2 - alpha * v


def one_level_head(num_classes=2):
    return YOLOv5Head(num_classes=num_classes, in_channels=[16], widen_factor=1.0,
                      anchors=[[(10, 13), (16, 30), (33, 23)]], strides=[8], train_size=64)


def gt(boxes, labels):
    return InstanceData(bboxes=torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
                        labels=torch.tensor(labels, dtype=torch.long))


def test_loss_one_gt_one_level_by_hand():
    head = one_level_head(num_classes=2)
    torch.manual_seed(0)
    pred = torch.randn(2, 3 * 7, 8, 8)
    # one gt on image 1: centre (21, 37.2) px, size 6 x 32 px -> grid (2.625, 4.65), (0.75, 4)
    cx, cy, w, h = 21.0, 37.2, 6.0, 32.0
    gts = [gt([], []), gt([[cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]], [1])]
    metas = [dict(img_shape=(64, 64), batch_input_shape=(64, 64))] * 2
    losses = head.loss_by_feat([pred], gts, metas)

    # By hand. Anchors / stride = (1.25, 1.625), (2, 3.75), (4.125, 2.875); ratio test
    # (max(r, 1/r) < 4): a0 1.67/2.46 ok, a1 2.67/1.07 ok, a2 5.5 fails.
    # x frac .625 (> .5: no left); 8 - 2.625 = 5.375 frac .375 -> right cell 3.
    # y frac .65 (no up); 8 - 4.65 = 3.35 frac .35 -> down cell 5.
    cells = [(a, gj, gi) for a in (0, 1) for gj, gi in ((4, 2), (4, 3), (5, 2))]
    levels = head._build_targets([pred], head._gt_targets(gts, pred.device))
    b, a, gj, gi = levels[0]['indices']
    assert set(b.tolist()) == {1}
    assert sorted(zip(a.tolist(), gj.tolist(), gi.tolist())) == sorted(cells)

    anchors = np.array([[10, 13], [16, 30], [33, 23]], dtype=np.float64) / 8
    grid = pred[1].detach().numpy().astype(np.float64).reshape(3, 7, 8, 8)
    gxy = np.array([cx / 8, cy / 8])
    ps = np.stack([grid[a_, :, gj_, gi_] for a_, gj_, gi_ in cells])
    tbox = np.stack([np.r_[gxy - (gi_, gj_), w / 8, h / 8] for _, gj_, gi_ in cells])
    pbox = np.c_[np_sigmoid(ps[:, :2]) * 2 - 0.5,
                 (np_sigmoid(ps[:, 2:4]) * 2) ** 2 * anchors[[c[0] for c in cells]]]
    ciou = np_ciou(pbox, tbox)
    bs, nl = 2, 1
    box_gain = 0.05 * 3 / nl
    obj_gain = 1.0 * (64 / 640) ** 2 * 3 / nl
    cls_gain = 0.5 * 2 / 80 * 3 / nl
    exp_box = (1 - ciou).mean() * box_gain * bs
    tobj = np.zeros((2, 3, 8, 8))
    for (a_, gj_, gi_), iou in zip(cells, ciou):
        tobj[1, a_, gj_, gi_] = max(iou, 0)
    obj_logits = pred.detach().numpy().astype(np.float64).reshape(2, 3, 7, 8, 8)[:, :, 4]
    exp_obj = np_bce_logits(obj_logits, tobj).mean() * 4.0 * obj_gain * bs
    tcls = np.tile([0.0, 1.0], (6, 1))
    exp_cls = np_bce_logits(ps[:, 5:], tcls).mean() * cls_gain * bs

    assert losses['loss_box'].item() == pytest.approx(exp_box, rel=1e-5)
    assert losses['loss_obj'].item() == pytest.approx(exp_obj, rel=1e-5)
    assert losses['loss_cls'].item() == pytest.approx(exp_cls, rel=1e-5)


def test_anchor_ratio_filter_rejects_mismatched_gt():
    head = one_level_head(num_classes=1)
    # a gt 5x the width of every anchor matches none: no box/cls loss, obj all-negative
    gts = [gt([[0, 0, 60, 2]], [0])]
    pred = torch.zeros(1, 3 * 6, 8, 8)
    losses = head.loss_by_feat([pred], gts, [dict(img_shape=(64, 64))])
    assert losses['loss_box'].item() == 0.0 and losses['loss_cls'].item() == 0.0
    assert losses['loss_obj'].item() == pytest.approx(
        math.log(2) * 4.0 * (64 / 640) ** 2 * 3, rel=1e-6)


# --------------------------------------------------------------------- EARL hook
class WeightedYOLOv5Head(YOLOv5Head):
    """Test double: weights taken from ``gt_instances.w``."""

    def get_gt_weights(self, batch_gt_instances):
        return [g.w for g in batch_gt_instances]


def three_level_case(weights, terms=None, normalize=None, num_classes=3):
    torch.manual_seed(1)
    kw = dict(num_classes=num_classes, in_channels=[8, 16, 32], widen_factor=1.0,
              train_size=128)
    plain = YOLOv5Head(**kw)
    earl = WeightedYOLOv5Head(**kw)
    if terms is not None:
        earl.earl_terms = set(terms)
    earl.earl_normalize = normalize
    earl.load_state_dict(plain.state_dict())
    preds = [torch.randn(2, 3 * (5 + num_classes), s, s) for s in (16, 8, 4)]
    # two well separated gts on image 0, one on image 1
    boxes = [[[10, 12, 40, 50], [80, 70, 118, 126]], [[30, 20, 90, 100]]]
    labels = [[0, 2], [1]]
    gts = [gt(bx, lb) for bx, lb in zip(boxes, labels)]
    for g, w in zip(gts, weights):
        g.w = torch.tensor(w, dtype=torch.float32)
    metas = [dict(img_shape=(128, 128))] * 2

    def run(head):
        p = [x.clone().requires_grad_(True) for x in preds]
        losses = head.loss_by_feat(p, gts, metas)
        sum(losses.values()).backward()
        return losses, [x.grad for x in p], head

    return run(plain), run(earl)


def test_earl_weights_one_equals_plain_exactly():
    (lp, gp, _), (le, ge, _) = three_level_case([[1.0, 1.0], [1.0]])
    for k in lp:
        assert torch.equal(lp[k], le[k]), k
    for a, b in zip(gp, ge):
        assert torch.equal(a, b)


def test_plain_head_hook_returns_none():
    assert one_level_head().get_gt_weights([gt([[0, 0, 4, 4]], [0])]) is None
    head = one_level_head()
    assert head.earl_terms == {'cls', 'box', 'obj'} and head.earl_normalize is None


def _target_cells(head, preds_shapes, gts):
    preds = [torch.zeros(s) for s in preds_shapes]
    levels = head._build_targets(preds, head._gt_targets(gts, torch.device('cpu')))
    return [(lv['indices'], lv['gt_idx']) for lv in levels]


def test_earl_weight_two_changes_only_that_gts_targets():
    (lp, gp, head), (le, ge, _) = three_level_case([[2.0, 1.0], [1.0]])
    gts = [gt([[10, 12, 40, 50], [80, 70, 118, 126]], [0, 2]), gt([[30, 20, 90, 100]], [1])]
    nc = 3
    touched = 0
    for lvl, ((b, a, gj, gi), gidx) in enumerate(
            _target_cells(head, [g.shape for g in gp], gts)):
        grid_p = gp[lvl].view(2, 3, 5 + nc, *gp[lvl].shape[-2:])
        grid_e = ge[lvl].view(2, 3, 5 + nc, *ge[lvl].shape[-2:])
        mask = torch.zeros(2, 3, *gp[lvl].shape[-2:], dtype=torch.bool)
        weighted = gidx == 0
        mask[b[weighted], a[weighted], gj[weighted], gi[weighted]] = True
        other = torch.zeros_like(mask)
        other[b[~weighted], a[~weighted], gj[~weighted], gi[~weighted]] = True
        assert not (mask & other).any(), 'test gts must not share cells'
        gp_cells = grid_p.permute(0, 1, 3, 4, 2)
        ge_cells = grid_e.permute(0, 1, 3, 4, 2)
        # everything outside gt 0's cells is untouched
        assert torch.allclose(gp_cells[~mask], ge_cells[~mask], rtol=1e-6, atol=1e-9)
        if mask.any():
            touched += 1
            # box loss only depends on xywh channels: its gradient doubles
            assert torch.allclose(ge_cells[mask][:, :4], 2 * gp_cells[mask][:, :4],
                                  rtol=1e-5, atol=1e-9)
            assert torch.allclose(ge_cells[mask][:, 4], 2 * gp_cells[mask][:, 4],
                                  rtol=1e-5, atol=1e-9)
            assert torch.allclose(ge_cells[mask][:, 5:], 2 * gp_cells[mask][:, 5:],
                                  rtol=1e-5, atol=1e-9)
    assert touched > 0
    for k in lp:
        assert le[k] > lp[k]


def test_earl_terms_restrict_weighting():
    (lp, _, _), (le, _, _) = three_level_case([[2.0, 0.5], [1.5]], terms={'box'})
    assert torch.equal(lp['loss_cls'], le['loss_cls'])
    assert torch.equal(lp['loss_obj'], le['loss_obj'])
    assert not torch.equal(lp['loss_box'], le['loss_box'])


def test_earl_mean_normalisation():
    # constant weights: normalised they are all 1 -> exactly the plain loss
    (lp, _, _), (le, _, _) = three_level_case([[0.5, 0.5], [0.5]], normalize='mean')
    for k in lp:
        assert torch.equal(lp[k], le[k]), k
    # unnormalised constant weight c scales box and cls by c (obj differs: unmatched cells)
    (lp, _, _), (le, _, _) = three_level_case([[0.5, 0.5], [0.5]])
    assert le['loss_box'].item() == pytest.approx(0.5 * lp['loss_box'].item(), rel=1e-6)
    assert le['loss_cls'].item() == pytest.approx(0.5 * lp['loss_cls'].item(), rel=1e-6)
    assert le['loss_obj'] < lp['loss_obj']


def test_gt_weight_count_mismatch_is_reported():
    class ShortWeights(YOLOv5Head):
        def get_gt_weights(self, batch_gt_instances):
            return [torch.ones(1)]

    head = ShortWeights(num_classes=2, in_channels=[16], widen_factor=1.0,
                        anchors=[[(10, 13)]], strides=[8])
    g = gt([[0, 0, 8, 8], [8, 8, 20, 20]], [0, 1])
    with pytest.raises(ValueError, match='image 0 has 2 gt boxes but 1 weights'):
        head.loss_by_feat([torch.zeros(1, 7, 8, 8)], [g], [dict(img_shape=(64, 64))])


# ----------------------------------------------------------------------- predict
def test_predict_decodes_and_rescales():
    head = one_level_head(num_classes=2)
    head.test_cfg = dict(score_thr=0.001, nms=dict(type='nms', iou_threshold=0.6),
                         max_per_img=300)
    pred = torch.zeros(1, 3, 7, 8, 8)
    pred[:, :, 4] = -20.0  # no object anywhere ...
    pred[0, 0, 4, 2, 3] = 10.0  # ... except anchor 0 at cell (gi 3, gj 2)
    pred[0, 0, 5, 2, 3] = -10.0
    pred[0, 0, 6, 2, 3] = 10.0  # class 1
    meta = dict(img_shape=(64, 64), ori_shape=(128, 128), scale_factor=(0.5, 0.5))
    res = head.predict_by_feat([pred.view(1, 21, 8, 8)], [meta], rescale=True)[0]
    assert len(res) == 1 and res.labels.tolist() == [1]
    # xy = (2*0.5 - 0.5 + (3, 2)) * 8 = (28, 20); wh = (2*0.5)^2 * (10, 13)
    expected = torch.tensor([[23.0, 13.5, 33.0, 26.5]]) / 0.5
    assert torch.allclose(res.bboxes, expected, atol=1e-4)
    sig10 = 1 / (1 + math.exp(-10))
    assert res.scores.item() == pytest.approx(sig10 * sig10, rel=1e-6)


# ------------------------------------------------------------------ full model
def make_batch(num_images, size, with_gt=True):
    inputs, samples = [], []
    g = torch.Generator().manual_seed(0)
    for _ in range(num_images):
        inputs.append(torch.randint(0, 256, (3, size, size), dtype=torch.uint8, generator=g))
        ds = DetDataSample(metainfo=dict(img_shape=(size, size), ori_shape=(size, size),
                                         scale_factor=(1.0, 1.0), pad_shape=(size, size)))
        if with_gt:
            ds.gt_instances = gt([[4, 6, 30, 40], [20, 10, size - 2, size - 4]], [1, 0])
        samples.append(ds)
    return dict(inputs=inputs, data_samples=samples)


@pytest.mark.parametrize('cfg_name', ['yolov5_n.py', 'yolov5_s.py'])
def test_yolov5_builds_trains_and_predicts(cfg_name):
    model = build_cfg(cfg_name, num_classes=3)
    data = model.data_preprocessor(make_batch(2, 64), True)
    losses = model.loss(data['inputs'], data['data_samples'])
    assert set(losses) == {'loss_box', 'loss_obj', 'loss_cls'}
    total = sum(losses.values())
    assert torch.isfinite(total) and total > 0
    total.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None for g in grads)
    model.eval()
    with torch.no_grad():
        data = model.data_preprocessor(make_batch(2, 64, with_gt=False), False)
        results = model.predict(data['inputs'], data['data_samples'])
    assert len(results) == 2
    inst = results[0].pred_instances
    assert inst.bboxes.shape[1] == 4 and len(inst) <= 300
    assert ((inst.labels >= 0) & (inst.labels < 3)).all()


def test_batch_without_gt_trains_objectness_only():
    for head in (one_level_head(), WeightedYOLOv5Head(
            num_classes=2, in_channels=[16], widen_factor=1.0,
            anchors=[[(10, 13), (16, 30), (33, 23)]], strides=[8], train_size=64)):
        empty = gt([], [])
        empty.w = torch.zeros(0)
        pred = torch.zeros(2, 21, 8, 8, requires_grad=True)
        losses = head.loss_by_feat([pred], [empty, empty], [dict(img_shape=(64, 64))] * 2)
        assert losses['loss_box'].item() == 0.0 and losses['loss_cls'].item() == 0.0
        assert losses['loss_obj'].item() == pytest.approx(
            math.log(2) * 4.0 * (64 / 640) ** 2 * 3 * 2, rel=1e-6)
        sum(losses.values()).backward()
        assert pred.grad.abs().sum() > 0


def test_loss_does_not_depend_on_the_order_of_gts():
    # two gts share cells (same centre, different sizes): the shared cells'
    # objectness target is the larger IoU whatever the order
    head = one_level_head(num_classes=2)
    torch.manual_seed(3)
    pred = torch.randn(1, 3 * 7, 8, 8)
    boxes, labels = [[18, 30, 24, 44], [16, 28, 26, 46]], [0, 1]
    metas = [dict(img_shape=(64, 64))]
    fwd = head.loss_by_feat([pred], [gt(boxes, labels)], metas)
    rev = head.loss_by_feat([pred], [gt(boxes[::-1], labels[::-1])], metas)
    for k in fwd:
        assert fwd[k].item() == pytest.approx(rev[k].item(), rel=1e-6), k


def test_silu_out_of_place_gives_the_in_place_arithmetic():
    """The activations are out of place (an in-place SiLU clones its input under
    autograd anyway); the losses and every gradient equal the in-place model's bit
    for bit, in the channels-last layout the CPU scales train in."""
    torch.manual_seed(0)
    model = build_cfg('yolov5_n.py', num_classes=3)
    silus = [m for m in model.modules() if isinstance(m, torch.nn.SiLU)]
    assert silus and not any(m.inplace for m in silus)
    in_place = copy.deepcopy(model)
    for m in in_place.modules():
        if isinstance(m, torch.nn.SiLU):
            m.inplace = True
    batch = make_batch(2, 64)
    grads = []
    for net in (model, in_place):
        net.to(memory_format=torch.channels_last).train()
        data = net.data_preprocessor(copy.deepcopy(batch), True)
        losses = net.loss(data['inputs'], data['data_samples'])
        sum(losses.values()).backward()
        grads.append(([v.detach() for v in losses.values()],
                      [p.grad for p in net.parameters()]))
    (loss_a, grad_a), (loss_b, grad_b) = grads
    assert all(torch.equal(a, b) for a, b in zip(loss_a, loss_b))
    assert all(torch.equal(a, b) for a, b in zip(grad_a, grad_b))
