"""EARL on mmdet dense heads: exactness at weight 1, per-prior weighting, options.

Every test uses tiny feature maps (64 px image, strides 8/16/32) and gt
boxes whose labels are unique per image, so a prior's target label names
the gt it was assigned to: the plain head's own targets are the oracle of
which priors an EARL weight must reach.
"""
import copy
import pickle

import pytest
import torch
from mmengine.structures import InstanceData

import mmmulti  # noqa: F401  (registers the mmmulti scope)
from mmmulti.models import EARLOptions, build_earl_head
from mmmulti.registry import MODELS

GN = dict(type='GN', num_groups=4, requires_grad=True)
C = 3  # classes; each image has one gt of each class
RETINA_TRAIN = dict(
    assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.4, min_pos_iou=0,
                  ignore_iof_thr=-1),
    sampler=dict(type='PseudoSampler'), allowed_border=-1, pos_weight=-1, debug=False)
HEADS = dict(
    # allowed_border=0 drops border anchors: positives index inside anchors
    retina=dict(
        type='RetinaHead', num_classes=C, in_channels=8, stacked_convs=1, feat_channels=8,
        anchor_generator=dict(type='AnchorGenerator', octave_base_scale=4,
                              scales_per_octave=2, ratios=[0.5, 1.0, 2.0],
                              strides=[8, 16, 32]),
        bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[.0] * 4,
                        target_stds=[1.0] * 4),
        loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25,
                      loss_weight=1.0),
        loss_bbox=dict(type='L1Loss', loss_weight=1.0),
        train_cfg=dict(RETINA_TRAIN, allowed_border=0)),
    atss=dict(
        type='ATSSHead', num_classes=C, in_channels=8, stacked_convs=1, feat_channels=8,
        norm_cfg=GN,
        anchor_generator=dict(type='AnchorGenerator', ratios=[1.0], octave_base_scale=4,
                              scales_per_octave=1, strides=[8, 16, 32]),
        bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[.0] * 4,
                        target_stds=[0.1, 0.1, 0.2, 0.2]),
        loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25,
                      loss_weight=1.0),
        loss_bbox=dict(type='GIoULoss', loss_weight=2.0),
        loss_centerness=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0),
        train_cfg=dict(assigner=dict(type='ATSSAssigner', topk=9), allowed_border=-1,
                       pos_weight=-1, debug=False)),
    fcos=dict(
        type='FCOSHead', num_classes=C, in_channels=8, stacked_convs=1, feat_channels=8,
        norm_cfg=GN, strides=[8, 16, 32], regress_ranges=((-1, 16), (16, 32), (32, 1e8)),
        center_sampling=True),
    yolox=dict(
        type='YOLOXHead', num_classes=C, in_channels=8, feat_channels=8, stacked_convs=1,
        strides=(8, 16, 32),
        train_cfg=dict(assigner=dict(type='SimOTAAssigner', center_radius=2.5))),
    effdet=dict(
        type='EfficientDetHead', num_classes=C, in_channels=8, stacked_convs=1,
        num_levels=3,
        anchor_generator=dict(type='AnchorGenerator', octave_base_scale=4,
                              scales_per_octave=2, ratios=[0.5, 1.0, 2.0],
                              strides=[8, 16, 32]),
        train_cfg=RETINA_TRAIN),
    yolov5=dict(type='YOLOv5Head', num_classes=C, in_channels=(8, 8, 8), train_size=64),
)
#: heads whose per-prior targets the oracle below can read
ORACLE_HEADS = ('retina', 'atss', 'fcos', 'yolox', 'effdet')
METAS = [dict(img_shape=(64, 64), pad_shape=(64, 64), batch_input_shape=(64, 64))] * 2


def build_head(name: str, **overrides):
    cfg = copy.deepcopy(HEADS[name])
    if MODELS.get(cfg['type']) is None:
        pytest.skip(f'{cfg["type"]} is not registered')
    cfg.update(overrides)
    torch.manual_seed(0)
    head = MODELS.build(cfg)
    return head


def build_earl(name: str, like=None, **options):
    """``EARL<Head>`` built from the same config through ``type='EARL'``; with
    ``like``, its weights are loaded (strictly: the keys must be the plain
    head's) so both compute from identical parameters."""
    cfg = copy.deepcopy(HEADS[name])
    head_type = cfg.pop('type')
    if MODELS.get(head_type) is None:
        pytest.skip(f'{head_type} is not registered')
    torch.manual_seed(0)
    earl = MODELS.build(dict(type='EARL', head_type=head_type, earl=options, **cfg))
    if like is not None:
        earl.load_state_dict(like.state_dict())
    return earl


def make_gts(weights=None, agreements=None):
    """Two images, three gts each with labels 0, 1, 2 (unique per image)."""
    g = torch.Generator().manual_seed(0)
    gts = []
    for i in range(2):
        xy = torch.rand(3, 2, generator=g) * 30
        wh = 10 + torch.rand(3, 2, generator=g) * 22
        gt = InstanceData(bboxes=torch.cat([xy, (xy + wh).clamp(max=64)], 1),
                          labels=torch.arange(3))
        if weights is not None:
            gt.confidences = torch.tensor(weights[i], dtype=torch.float32)
        if agreements is not None:
            gt.agreements = torch.tensor(agreements[i], dtype=torch.long)
        gts.append(gt)
    return gts


def head_outputs(head):
    """Seeded head outputs, detached leaves, so gradients stop at them."""
    torch.manual_seed(1)
    x = [torch.randn(2, 8, s, s) for s in (8, 4, 2)]
    with torch.no_grad():
        outs = head(tuple(x))
    return [[o.clone().requires_grad_() for o in level] for level in outs]


def losses_and_grads(head, outs, gts):
    for level in outs:
        for o in level:
            o.grad = None
    losses = head.loss_by_feat(*outs, gts, METAS)
    total = sum(sum(v) if isinstance(v, list) else v for v in losses.values())
    total.backward()
    return losses, [[o.grad.clone() for o in level] for level in outs]


def assert_losses_equal(a: dict, b: dict):
    assert a.keys() == b.keys()
    for k in a:
        va, vb = a[k], b[k]
        if isinstance(va, list):
            assert len(va) == len(vb) and all(torch.equal(x, y) for x, y in zip(va, vb)), k
        else:
            assert torch.equal(va, vb), (k, va, vb)


def per_prior(grad: torch.Tensor, num_base_priors: int) -> torch.Tensor:
    """(N, A*k, H, W) -> (N, H*W*A, k): mmdet's prior order."""
    n, ch, h, w = grad.shape
    return grad.permute(0, 2, 3, 1).reshape(n, h * w * num_base_priors, ch // num_base_priors)


def plain_target_labels(name, head, outs, gts):
    """Per level (N, P_l) target label of every prior from the plain head
    (``C`` = background); labels are unique per image, so they name the gt."""
    featmap_sizes = [o.shape[-2:] for o in outs[0]]
    with torch.no_grad():
        if name in ('retina', 'atss', 'effdet'):
            anchors, valid = head.get_anchors(featmap_sizes, METAS, device='cpu')
            res = head.get_targets(anchors, valid, gts, METAS)
            return list(res[1] if name == 'atss' else res[0])
        if name == 'fcos':
            points = head.prior_generator.grid_priors(featmap_sizes, dtype=torch.float32,
                                                      device='cpu')
            labels, _ = head.get_targets(points, gts)
            return [lab.view(2, -1) for lab in labels]
        # YOLOX: rerun its target step; a positive's bbox target is a copy of
        # its gt box, which identifies the gt
        cls, box, obj = outs
        priors = head.prior_generator.grid_priors(featmap_sizes, dtype=torch.float32,
                                                  device='cpu', with_stride=True)
        sizes = [p.shape[0] for p in priors]
        flat_priors = torch.cat(priors)
        flat_cls = torch.cat([c.permute(0, 2, 3, 1).reshape(2, -1, C) for c in cls], 1)
        flat_box = torch.cat([b.permute(0, 2, 3, 1).reshape(2, -1, 4) for b in box], 1)
        flat_obj = torch.cat([o.permute(0, 2, 3, 1).reshape(2, -1) for o in obj], 1)
        decoded = head._bbox_decode(flat_priors, flat_box)
        per_img = []
        for i in range(2):
            fg, _, _, bbox_t, _, _ = head._get_targets_single(
                flat_priors, flat_cls[i], decoded[i], flat_obj[i], gts[i], METAS[i])
            labels = torch.full((flat_priors.shape[0], ), C, dtype=torch.long)
            match = (bbox_t[:, None, :] == gts[i].bboxes[None]).all(-1)
            assert (match.sum(1) == 1).all()
            labels[fg] = gts[i].labels[match.float().argmax(1)]
            per_img.append(labels)
        return list(torch.stack(per_img).split(sizes, 1))


@pytest.mark.parametrize('name', ['retina', 'atss', 'fcos', 'yolox', 'effdet', 'yolov5'])
def test_weights_one_give_the_plain_losses_exactly(name):
    head = build_head(name)
    outs = head_outputs(head)
    plain = head.loss_by_feat(*outs, make_gts(), METAS)
    earl = build_earl(name, head)
    assert type(earl).__name__ == f'EARL<{type(head).__name__}>'
    ones = [[1.0, 1.0, 1.0]] * 2
    # explicit ones, absent fields, counts of one, and uniform weights under 'mean'
    assert_losses_equal(plain, earl.loss_by_feat(*outs, make_gts(ones), METAS))
    assert_losses_equal(plain, earl.loss_by_feat(*outs, make_gts(), METAS))
    earl.set_earl_options(weight_mode='count')
    assert_losses_equal(plain, earl.loss_by_feat(*outs, make_gts(agreements=[[1] * 3] * 2),
                                                 METAS))
    earl.set_earl_options(normalize='mean')
    assert_losses_equal(plain, earl.loss_by_feat(*outs, make_gts([[0.5] * 3] * 2), METAS))


@pytest.mark.parametrize('name', ['retina', 'atss', 'fcos', 'yolox', 'effdet', 'yolov5'])
def test_state_dict_keys_and_values_interchange(name):
    head = build_head(name)
    plain_sd = head.state_dict()
    earl = build_earl(name, head)
    earl_sd = earl.state_dict()
    assert list(plain_sd) == list(earl_sd)
    assert all(torch.equal(plain_sd[k], earl_sd[k]) for k in plain_sd)
    fresh = build_earl(name)
    for p in fresh.parameters():
        p.data.add_(1.0)
    fresh.load_state_dict(plain_sd)  # strict
    assert all(torch.equal(fresh.state_dict()[k], plain_sd[k]) for k in plain_sd)
    assert isinstance(fresh, type(head)) and type(fresh).__earl_base__ is type(head)
    # and back: an EARL checkpoint loads into the plain head
    build_head(name).load_state_dict(fresh.state_dict())


@pytest.mark.parametrize('name', ORACLE_HEADS)
def test_doubling_one_gt_doubles_exactly_its_priors(name):
    head = build_head(name)
    outs = head_outputs(head)
    labels = plain_target_labels(name, head, outs, make_gts())
    earl = build_earl(name, head)
    ones = [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    doubled = [[1.0, 2.0, 1.0], [1.0, 1.0, 1.0]]  # gt of label 1 in image 0
    _, g1 = losses_and_grads(earl, outs, make_gts(ones))
    _, g2 = losses_and_grads(earl, outs, make_gts(doubled))
    a = getattr(head, 'num_base_priors', 1)
    hits = 0
    for lv, lab in enumerate(labels):
        mask = torch.zeros_like(lab, dtype=torch.bool)
        mask[0] = lab[0] == 1  # priors assigned to the doubled gt
        hits += int(mask.sum())
        for out_type in range(len(outs)):  # cls, box, (obj / centerness)
            p1 = per_prior(g1[out_type][lv], a)
            p2 = per_prior(g2[out_type][lv], a)
            assert torch.equal(p2[~mask], p1[~mask]), (lv, out_type)
            assert torch.allclose(p2[mask], 2 * p1[mask], rtol=1e-6, atol=0), (lv, out_type)
            assert torch.count_nonzero(p1[mask]) > 0 or not mask.any()
    assert hits > 0, 'the doubled gt got no positive prior; enlarge the test boxes'


@pytest.mark.parametrize('name', ORACLE_HEADS)
def test_terms_without_box_leave_the_box_loss_unweighted(name):
    head = build_head(name)
    outs = head_outputs(head)
    plain_losses, g_plain = losses_and_grads(head, outs, make_gts())
    earl = build_earl(name, head, terms=('cls', ))
    losses, g = losses_and_grads(earl, outs, make_gts([[2.0, 2.0, 2.0]] * 2))
    box = 1
    for lv in range(3):
        assert torch.equal(g[box][lv], g_plain[box][lv])
    assert not torch.equal(g[0][0], g_plain[0][0])  # cls is weighted
    assert_losses_equal({'b': losses['loss_bbox']}, {'b': plain_losses['loss_bbox']})


@pytest.mark.parametrize('name', ['retina', 'yolox', 'yolov5'])
def test_count_mode_reads_agreements(name):
    head = build_head(name)
    outs = head_outputs(head)
    counts = [[1, 2, 3], [3, 1, 2]]
    fractions = [[1 / 3, 2 / 3, 1.0], [1.0, 1 / 3, 2 / 3]]
    count = build_earl(name, head, weight_mode='count')
    as_conf = build_earl(name, head, weight_mode='fraction')
    got = count.loss_by_feat(*outs, make_gts(fractions, agreements=counts), METAS)
    want = as_conf.loss_by_feat(*outs, make_gts([[float(c) for c in r] for r in counts]),
                                METAS)
    assert_losses_equal(got, want)
    frac = as_conf.loss_by_feat(*outs, make_gts(fractions, agreements=counts), METAS)
    assert not torch.equal(frac['loss_cls'] if name != 'retina' else frac['loss_cls'][0],
                           got['loss_cls'] if name != 'retina' else got['loss_cls'][0])


@pytest.mark.parametrize('name', ORACLE_HEADS)
def test_mean_normalisation_keeps_mean_positive_weight_one(name):
    head = build_head(name)
    outs = head_outputs(head)
    weights = [[0.2, 1.0, 0.6], [1.0, 0.4, 0.8]]
    raw = build_earl(name, head)
    raw.loss_by_feat(*outs, make_gts(weights), METAS)
    earl = build_earl(name, head, normalize='mean')
    earl.loss_by_feat(*outs, make_gts(weights), METAS)
    w = earl.earl_last_pos_weights
    assert w.numel() == raw.earl_last_pos_weights.numel() > 0
    assert torch.allclose(w.mean(), torch.tensor(1.0), atol=1e-6)
    assert torch.allclose(w, raw.earl_last_pos_weights / raw.earl_last_pos_weights.mean())
    assert raw.earl_last_pos_weights.std() > 0  # weights really differ


def test_yolox_l1_term_is_weighted():
    head = build_head('yolox')
    head.use_l1 = True
    outs = head_outputs(head)
    plain = head.loss_by_feat(*outs, make_gts(), METAS)
    earl = build_earl('yolox', head)
    earl.use_l1 = True
    assert_losses_equal(plain, earl.loss_by_feat(*outs, make_gts([[1.0] * 3] * 2), METAS))
    double = earl.loss_by_feat(*outs, make_gts([[2.0] * 3] * 2), METAS)
    for k in ('loss_cls', 'loss_bbox', 'loss_l1'):
        assert torch.allclose(double[k], 2 * plain[k], rtol=1e-6), k


def test_yolov5_hook_receives_weights_and_options():
    head = build_head('yolov5')
    assert head.get_gt_weights(make_gts()) is None
    earl = build_earl('yolov5', head, weight_mode='count', terms=('cls', 'box'),
                      normalize='mean')
    w = earl.get_gt_weights(make_gts([[0.5] * 3] * 2, agreements=[[1, 2, 3], [2, 2, 2]]))
    assert [x.tolist() for x in w] == [[1.0, 2.0, 3.0], [2.0, 2.0, 2.0]]
    assert earl.earl_terms == {'cls', 'box'} and earl.earl_normalize == 'mean'
    # the plain head is untouched
    assert head.get_gt_weights(make_gts()) is None and head.earl_normalize is None


@pytest.mark.parametrize('name', ORACLE_HEADS)
def test_empty_images(name):
    head = build_head(name)
    outs = head_outputs(head)
    earl = build_earl(name, head, normalize='mean')

    def drop_second(gts):
        gts[1] = gts[1][torch.zeros(3, dtype=torch.bool)]
        return gts

    assert_losses_equal(head.loss_by_feat(*outs, drop_second(make_gts()), METAS),
                        earl.loss_by_feat(*outs, drop_second(make_gts([[1.0] * 3] * 2)),
                                          METAS))
    earl.loss_by_feat(*outs, drop_second(make_gts([[0.5, 1.0, 0.7]] * 2)), METAS)
    assert earl.earl_last_pos_weights.numel() > 0
    none = [g[torch.zeros(3, dtype=torch.bool)] for g in make_gts([[0.5] * 3] * 2)]
    assert_losses_equal(head.loss_by_feat(*outs, none, METAS),
                        earl.loss_by_feat(*outs, none, METAS))
    assert earl.earl_last_pos_weights.numel() == 0


def test_config_builder_and_option_errors():
    cfg = copy.deepcopy(HEADS['retina'])
    cfg['type'] = 'EARL'
    cfg['head_type'] = 'RetinaHead'
    cfg['earl'] = dict(weight_mode='count', terms=('cls', 'box', 'obj'), normalize='mean')
    head = MODELS.build(cfg)
    assert type(head).__name__ == 'EARL<RetinaHead>'
    assert head.earl_options.to_dict() == dict(weight_mode='count', terms=('cls', 'box', 'obj'),
                                               normalize='mean')
    assert isinstance(head, MODELS.get('RetinaHead'))
    for bad, err in ((dict(weight_mode='votes'), ValueError), (dict(terms=('loc', )), ValueError),
                     (dict(normalize='sum'), ValueError), (dict(beta=2), TypeError)):
        with pytest.raises(err, match='EARL'):
            MODELS.build(dict(cfg, earl=bad))
    with pytest.raises(TypeError, match='no adapter for GFLHead'):
        MODELS.build(dict(type='EARL', head_type='GFLHead', num_classes=C, in_channels=8,
                          feat_channels=8, stacked_convs=1, norm_cfg=GN,
                          anchor_generator=HEADS['atss']['anchor_generator']))


def test_misaligned_weights_are_an_error():
    head = build_earl('retina')
    outs = head_outputs(head)
    gts = make_gts([[1.0, 1.0, 1.0]] * 2)
    gts[0].confidences = torch.ones(3, 2)  # not one weight per box
    with pytest.raises(ValueError, match=r'confidences has shape \(3, 2\).*3 gt boxes'):
        head.loss_by_feat(*outs, gts, METAS)
    gts = make_gts([[1.0, -1.0, 1.0]] * 2)
    with pytest.raises(ValueError, match='finite and >= 0'):
        head.loss_by_feat(*outs, gts, METAS)
    # the head is left clean after an error: plain losses again
    plain = build_head('retina')
    assert_losses_equal(plain.loss_by_feat(*outs, make_gts(), METAS),
                        head.loss_by_feat(*outs, make_gts(), METAS))


def test_a_changed_loss_path_is_an_error_not_a_silent_misweight(monkeypatch):
    from mmdet.models.dense_heads import FCOSHead, YOLOXHead
    # ATSS: a per-level loss fed labels that get_targets did not make
    atss = build_earl('atss')
    outs = head_outputs(atss)
    with pytest.raises(RuntimeError, match='did not make'):
        atss.loss_by_feat_single(torch.zeros(2, 4, 4), outs[0][0], outs[1][0], outs[2][0],
                                 torch.zeros(2, 4, dtype=torch.long), torch.ones(2, 4),
                                 torch.zeros(2, 4, 4), avg_factor=1.0)
    # FCOS / YOLOX: targets whose boxes no longer match a gt (an upstream change
    # of the target step) cannot be mapped back to their gt: an error
    plain_fcos = FCOSHead._get_targets_single
    monkeypatch.setattr(FCOSHead, '_get_targets_single',
                        lambda self, *a, **k: (lambda r: (r[0], r[1] + 3.0))(
                            plain_fcos(self, *a, **k)))
    fcos = build_earl('fcos')
    with pytest.raises(RuntimeError, match='matches no gt box'):
        fcos.loss_by_feat(*head_outputs(fcos), make_gts(), METAS)
    plain_yolox = YOLOXHead._get_targets_single
    monkeypatch.setattr(YOLOXHead, '_get_targets_single',
                        lambda self, *a, **k: (lambda r: (*r[:3], r[3] + 1.0, *r[4:]))(
                            plain_yolox(self, *a, **k)))
    yolox = build_earl('yolox')
    with pytest.raises(RuntimeError, match='matches no gt box'):
        yolox.loss_by_feat(*head_outputs(yolox), make_gts(), METAS)
    monkeypatch.undo()
    # an AnchorHead subclass whose loss never calls get_targets
    no_targets = type('NoTargetsHead', (MODELS.get('RetinaHead'), ), dict(
        loss_by_feat=lambda self, cls_scores, *a, **k: dict(loss_cls=cls_scores[0].sum() * 0)))
    cfg = copy.deepcopy(HEADS['retina'])
    cfg.pop('type')
    retina = build_earl_head(no_targets, **cfg)
    outs = head_outputs(retina)
    with pytest.raises(RuntimeError, match='did not call get_targets'):
        retina.loss_by_feat(*outs, make_gts(), METAS)


def test_options_and_pickle():
    opts = EARLOptions.from_dict(dict(terms='cls'))
    assert opts.terms == frozenset({'cls'}) and opts.weight_mode == 'fraction'
    head = build_earl('retina', terms=('cls', 'box'))
    clone = pickle.loads(pickle.dumps(head))
    assert type(clone) is type(head)
    assert clone.earl_options.to_dict() == head.earl_options.to_dict()
    copied = copy.deepcopy(head)
    assert type(copied) is type(head)


def test_register_adapter_for_a_head_with_its_own_targets():
    from mmdet.models.dense_heads import RetinaHead

    from mmmulti.models import register_earl_adapter
    from mmmulti.models.earl.adapters import AnchorHeadEARL

    class OwnTargetsHead(RetinaHead):
        """Overrides get_targets (here trivially), so no built-in adapter fits."""

        def get_targets(self, *args, **kwargs):
            return super().get_targets(*args, **kwargs)

    cfg = copy.deepcopy(HEADS['retina'])
    cfg.pop('type')
    torch.manual_seed(0)
    head = OwnTargetsHead(**cfg)
    outs = head_outputs(head)
    with pytest.raises(TypeError, match='no adapter for OwnTargetsHead'):
        build_earl_head(OwnTargetsHead, **cfg)

    class OwnTargetsHeadEARL(AnchorHeadEARL):
        """Its targets still come from AnchorHead's path: reuse that adapter."""

    register_earl_adapter(OwnTargetsHead, OwnTargetsHeadEARL)
    earl = build_earl_head(OwnTargetsHead, **cfg)
    earl.load_state_dict(head.state_dict())
    assert isinstance(earl, OwnTargetsHeadEARL)
    assert_losses_equal(head.loss_by_feat(*outs, make_gts(), METAS),
                        earl.loss_by_feat(*outs, make_gts([[1.0] * 3] * 2), METAS))
    earl.loss_by_feat(*outs, make_gts([[0.5, 1.0, 1.0]] * 2), METAS)
    assert (earl.earl_last_pos_weights == 0.5).any()
