"""Per-box EARL weights stay aligned box by box through mmdet's transforms.

Every box is painted into its image with its own (channel, value) colour, so
after a transform each surviving box is identified by the pixels inside it
(a geometric fingerprint that does not use labels or weights). Its unpacked
confidence / agreement / label must equal those of the source box. Labels
are deliberately not unique, so a label cannot stand in for the identity.
"""
import copy

import cv2
import numpy as np
import pytest
import torch
from mmdet.datasets.transforms import LoadAnnotations as MMDetLoadAnnotations
from mmdet.datasets.transforms import PackDetInputs as MMDetPackDetInputs
from mmengine.registry import init_default_scope

import mmmulti  # noqa: F401
from mmmulti.datasets.transforms import (PACKED_FLAG, LoadMultiReaderAnnotations,
                                         PackMultiReaderInputs, pack_labels,
                                         unpack_box_weights, unpack_labels)
from mmmulti.registry import TRANSFORMS

SIZE = 64
BOXES_PER_IMAGE = 6


def conf_of(g):
    return np.float32(1.0 / (g + 2))


def agr_of(g):
    return g % 5 + 1


def label_of(g):
    return g % 2


def colour_of(g):
    """(channel, value) painted inside box g.

    Image i paints in channel i % 3, so two consecutive images never share a
    channel (MixUp blends them 50/50); values are unique per channel for up
    to 6 images and even (MixUp halves them).
    """
    img, local = divmod(g, BOXES_PER_IMAGE)
    return img % 3, 16 * ((img // 3) * BOXES_PER_IMAGE + local + 1)


def make_results(image_index: int, rng: np.random.Generator,
                 tiny: bool = True) -> dict:
    """A 64x64 image with 6 non-overlapping painted boxes, loaded by
    mmmulti's LoadAnnotations."""
    img = np.zeros((SIZE, SIZE, 3), np.uint8)
    instances = []
    for j in range(BOXES_PER_IMAGE):
        g = image_index * BOXES_PER_IMAGE + j
        cx, cy = 2 + 21 * (j % 3), 2 + 32 * (j // 3)  # 3x2 grid of cells
        if tiny and j == 5:
            w = h = 3                               # FilterAnnotations drops it
        else:
            w, h = int(rng.integers(8, 18)), int(rng.integers(10, 27))
        x1, y1 = cx + int(rng.integers(0, 19 - w + 1)), cy + int(
            rng.integers(0, 29 - h + 1))
        ch, val = colour_of(g)
        img[y1:y1 + h, x1:x1 + w, ch] = val
        instances.append(
            dict(bbox=[x1, y1, x1 + w, y1 + h], bbox_label=label_of(g),
                 ignore_flag=0, confidence=float(conf_of(g)),
                 agreement=agr_of(g), reader=f'R{g % 3}'))
    results = dict(img=img, img_shape=(SIZE, SIZE), ori_shape=(SIZE, SIZE),
                   height=SIZE, width=SIZE, img_id=image_index,
                   img_path=f'img{image_index}.png', instances=instances)
    return LoadMultiReaderAnnotations()(results)


def identify(img: np.ndarray, box, candidates, scale: float = 1.0):
    """The source box whose painted region (found by its colour anywhere in
    ``img``) has the bounding box that best overlaps ``box``."""
    best, best_iou = None, 0.0
    for g in candidates:
        ch, val = colour_of(g)
        pix = img[..., ch].astype(np.int32)
        # interpolated edges lose the exact colour; the interior keeps it.
        # Blended (scale 0.5): the other image adds 0, or half its pad 114.
        mask = np.abs(pix - int(val * scale)) <= 1
        if scale != 1.0:
            mask |= pix == int(val * scale) + 57
        # erosion removes 1-px edge slivers where another box's blurred
        # border happens to pass through this colour
        mask = cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8))
        # one component per copy (Mosaic may use the same image twice)
        n, _, stats, _ = cv2.connectedComponentsWithStats(mask)
        iou = 0.0
        for x, y, cw, chh, _ in stats[1:n]:
            region = np.array([x - 1, y - 1, x + cw + 1, y + chh + 1], np.float64)
            iou = max(iou, _iou(np.asarray(box, dtype=np.float64), region))
        if iou > best_iou:
            best, best_iou = g, iou
    return best if best_iou >= 0.5 else None


def _iou(a, b):
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def check_packed(results: dict, candidates, scale: float = 1.0,
                 min_side: float = 2.0, skip_clipped: bool = False) -> int:
    """Pack with mmmulti's PackMultiReaderInputs and check every box (but slivers
    thinner than ``min_side`` and, with ``skip_clipped``, rotated boxes cut
    by the image border, whose painted region no longer fills them).

    Returns the number of boxes that were identified and checked.
    """
    packed = PackMultiReaderInputs()(copy.deepcopy(results))
    inst = packed['data_samples'].gt_instances
    img = packed['inputs'].permute(1, 2, 0).numpy()
    assert inst.confidences.dtype == torch.float32
    assert inst.agreements.dtype == torch.int64
    n = len(inst.bboxes)
    assert len(inst.confidences) == len(inst.agreements) == len(inst.labels) == n
    checked = 0
    for k in range(n):
        box = inst.bboxes.tensor[k].tolist()
        if box[2] - box[0] < min_side or box[3] - box[1] < min_side:
            continue
        h, w = img.shape[:2]
        if skip_clipped and (min(box[:2]) <= 0 or box[2] >= w or box[3] >= h):
            continue
        g = identify(img, box, candidates, scale)
        assert g is not None, f'box {k} {box} not identifiable'
        assert inst.confidences[k].item() == conf_of(g), (k, g)
        assert inst.agreements[k].item() == agr_of(g), (k, g)
        assert inst.labels[k].item() == label_of(g), (k, g)
        checked += 1
    return checked


def num_boxes(results):
    return len(results['gt_bboxes'])


@pytest.fixture(autouse=True)
def _scope():
    init_default_scope('mmmulti')


# --------------------------------------------------------------------------
# the packing itself


def test_pack_roundtrip_exact_and_positive():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 65536, 500)
    conf = np.concatenate([rng.random(495).astype(np.float32),
                           np.float32([0.0, 1.0, 1e-40, 1 / 3, 3.5])])
    agr = rng.integers(0, 32768, 500)
    packed = pack_labels(labels, conf, agr)
    assert packed.dtype == np.int64 and (packed > 0).all()
    lab2, conf2, agr2 = unpack_labels(packed)
    np.testing.assert_array_equal(lab2, labels)
    np.testing.assert_array_equal(conf2.view(np.uint32), conf.view(np.uint32))
    np.testing.assert_array_equal(agr2, agr)


@pytest.mark.parametrize('labels,conf,agr,msg', [
    ([65536], [1.0], [1], 'labels'),
    ([-1], [1.0], [1], 'labels'),
    ([0], [-0.5], [1], 'confidences'),
    ([0], [np.nan], [1], 'confidences'),
    ([0], [1.0], [40000], 'agreements'),
])
def test_pack_rejects_values_that_do_not_fit(labels, conf, agr, msg):
    with pytest.raises(ValueError, match=msg):
        pack_labels(labels, conf, agr)


def test_plain_labels_mixed_into_packed_ones_are_detected():
    results = make_results(0, np.random.default_rng(0))
    results['gt_bboxes_labels'] = np.concatenate(
        [results['gt_bboxes_labels'][:-1], np.array([3])])
    with pytest.raises(ValueError, match='plain labels'):
        unpack_box_weights(results)
    results = make_results(0, np.random.default_rng(0))
    del results[PACKED_FLAG]
    with pytest.raises(ValueError, match='flag'):
        PackMultiReaderInputs()(results)


def test_load_annotations_defaults_and_registry_names():
    # our transforms under their own names; mmdet's names keep mmdet's classes
    assert type(TRANSFORMS.build(
        dict(type='LoadMultiReaderAnnotations'))) is LoadMultiReaderAnnotations
    assert type(TRANSFORMS.build(
        dict(type='PackMultiReaderInputs'))) is PackMultiReaderInputs
    assert type(TRANSFORMS.build(dict(type='LoadAnnotations'))) is MMDetLoadAnnotations
    assert type(TRANSFORMS.build(dict(type='PackDetInputs'))) is MMDetPackDetInputs
    results = dict(height=8, width=8, instances=[
        dict(bbox=[0, 0, 4, 4], bbox_label=2, ignore_flag=0),
        dict(bbox=[1, 1, 5, 6], bbox_label=0, ignore_flag=1, confidence=0.25,
             agreement=3, reader='R9')])
    results = LoadMultiReaderAnnotations()(results)
    assert results['gt_readers'].tolist() == ['', 'R9']
    labels, conf, agr = unpack_box_weights(results)
    assert labels.tolist() == [2, 0]
    assert conf.tolist() == [1.0, 0.25] and agr.tolist() == [1, 3]
    # ignored boxes go to ignored_instances with their weights
    packed = PackMultiReaderInputs()(results)['data_samples']
    assert packed.gt_instances.labels.tolist() == [2]
    assert packed.gt_instances.confidences.tolist() == [1.0]
    assert packed.ignored_instances.confidences.tolist() == [0.25]
    assert packed.ignored_instances.agreements.tolist() == [3]


def test_with_label_false_packs_weights_but_no_labels():
    results = dict(height=8, width=8, instances=[
        dict(bbox=[0, 0, 4, 4], bbox_label=2, ignore_flag=0, confidence=0.5)])
    results = LoadMultiReaderAnnotations(with_label=False)(results)
    inst = PackMultiReaderInputs()(results)['data_samples'].gt_instances
    assert 'labels' not in inst
    assert inst.confidences.tolist() == [0.5]


def test_mmdet_load_annotations_keeps_mmdet_data_sample():
    results = dict(height=8, width=8, instances=[
        dict(bbox=[0, 0, 4, 4], bbox_label=2, ignore_flag=0)])
    results = TRANSFORMS.build(dict(type='mmdet.LoadAnnotations'))(results)
    inst = PackMultiReaderInputs()(results)['data_samples'].gt_instances
    assert inst.labels.tolist() == [2]
    assert 'confidences' not in inst


def test_a_side_key_would_fall_out_of_alignment():
    """Control: the failure this design prevents does happen with a side key."""
    results = make_results(0, np.random.default_rng(1))
    results['gt_confidences'] = unpack_box_weights(results)[1]
    t = TRANSFORMS.build(dict(type='FilterAnnotations', min_gt_bbox_wh=(4, 4)))
    out = t(results)
    assert len(out['gt_confidences']) == BOXES_PER_IMAGE
    assert num_boxes(out) < BOXES_PER_IMAGE


# --------------------------------------------------------------------------
# box-dropping transforms, one by one


def test_filter_annotations():
    results = make_results(0, np.random.default_rng(0))
    out = TRANSFORMS.build(dict(type='FilterAnnotations',
                                min_gt_bbox_wh=(4, 4)))(results)
    assert num_boxes(out) == BOXES_PER_IMAGE - 1
    assert check_packed(out, range(BOXES_PER_IMAGE)) == BOXES_PER_IMAGE - 1


def _run_until_dropped(build, make, candidates, scale=1.0, seeds=range(40),
                       n_in=BOXES_PER_IMAGE, **check_kw):
    """Apply a transform under several seeds; check every output; return how
    many runs dropped boxes (must be > 0)."""
    dropped_runs, checked_total = 0, 0
    for seed in seeds:
        np.random.seed(seed)
        out = build()(make())
        if out is None:
            continue
        if num_boxes(out) < n_in:
            dropped_runs += 1
        checked_total += check_packed(out, candidates, scale, **check_kw)
    assert dropped_runs > 0, 'no seed dropped a box: the test proves nothing'
    assert checked_total > 0
    return dropped_runs


def test_random_crop():
    _run_until_dropped(
        lambda: TRANSFORMS.build(dict(type='RandomCrop', crop_size=(32, 32))),
        lambda: make_results(0, np.random.default_rng(2)),
        range(BOXES_PER_IMAGE), seeds=range(10))


def test_min_iou_random_crop():
    _run_until_dropped(
        lambda: TRANSFORMS.build(dict(type='MinIoURandomCrop')),
        lambda: make_results(0, np.random.default_rng(3)),
        range(BOXES_PER_IMAGE), seeds=range(20))


def test_random_affine():
    _run_until_dropped(
        lambda: TRANSFORMS.build(dict(type='RandomAffine', max_translate_ratio=0.4,
                                      scaling_ratio_range=(0.8, 1.6))),
        lambda: make_results(0, np.random.default_rng(4), tiny=False),
        range(BOXES_PER_IMAGE), seeds=range(10), skip_clipped=True)


def _with_mix(n_mix, main=0, tiny=True):
    rng = np.random.default_rng(5)
    results = make_results(main, rng, tiny)
    results['mix_results'] = [make_results(main + 1 + i, rng, tiny)
                              for i in range(n_mix)]
    return results


def test_mosaic_carries_other_images_weights():
    candidates = range(4 * BOXES_PER_IMAGE)
    seen_other = dropped_runs = 0
    for seed in range(6):
        np.random.seed(seed)
        out = TRANSFORMS.build(dict(type='Mosaic', img_scale=(SIZE, SIZE)))(
            _with_mix(3))
        dropped_runs += num_boxes(out) < 4 * BOXES_PER_IMAGE
        assert check_packed(out, candidates) > 0
        _, conf, _ = unpack_box_weights(out)
        seen_other += int((conf < conf_of(BOXES_PER_IMAGE - 1)).sum())
    assert seen_other > 0  # boxes of the three other images were checked
    assert dropped_runs > 0


def test_mixup():
    # MixUp blends both images 50/50: colours are halved.
    _run_until_dropped(
        lambda: TRANSFORMS.build(dict(type='MixUp', img_scale=(SIZE, SIZE),
                                      ratio_range=(0.8, 1.6))),
        lambda: _with_mix(1, tiny=False), range(2 * BOXES_PER_IMAGE), scale=0.5,
        n_in=2 * BOXES_PER_IMAGE, seeds=range(10))


def _cached_stream(transform, n_images=6, scale=1.0, min_side=2.0):
    """Feed several images through one cached transform (its cache fills up
    first); check every output."""
    candidates = range(n_images * BOXES_PER_IMAGE)
    dropped = mixed = 0
    rng = np.random.default_rng(6)
    for i in range(n_images):
        res = make_results(i, rng)
        out = transform(res)
        n_out = num_boxes(out)
        _, conf, _ = unpack_box_weights(out)
        own = {float(conf_of(i * BOXES_PER_IMAGE + j))
               for j in range(BOXES_PER_IMAGE)}
        if any(float(c) not in own for c in conf):
            mixed += 1
            dropped += int(n_out < BOXES_PER_IMAGE * 2)
            check_packed(out, candidates, scale, min_side=min_side)
    return mixed, dropped


def test_cached_mosaic():
    np.random.seed(0)
    mixed, _ = _cached_stream(TRANSFORMS.build(dict(
        type='CachedMosaic', img_scale=(SIZE, SIZE), max_cached_images=5)))
    assert mixed > 0
    # drops: boxes pushed outside the mosaic canvas
    dropped_any = False
    for seed in range(4):
        np.random.seed(seed)
        t = TRANSFORMS.build(dict(type='CachedMosaic', img_scale=(SIZE, SIZE),
                                  max_cached_images=5))
        rng = np.random.default_rng(seed)
        for i in range(6):
            out = t(make_results(i, rng))
        check_packed(out, range(6 * BOXES_PER_IMAGE))
        # 4 images of 6 boxes went in
        dropped_any |= num_boxes(out) < 4 * BOXES_PER_IMAGE
    assert dropped_any


def test_cached_mixup():
    np.random.seed(0)
    mixed, dropped = _cached_stream(TRANSFORMS.build(dict(
        type='CachedMixUp', img_scale=(SIZE, SIZE), ratio_range=(1.5, 2.5),
        max_cached_images=2, random_pop=False)), scale=0.5, min_side=6)
    assert mixed > 0 and dropped > 0


def test_yolox_mixup_is_not_in_mmdet_3_3():
    """MixUp *is* YOLOX's mixup in mmdet 3.3; should a YOLOXMixUp appear,
    it must be added to the tests above."""
    from mmdet.registry import TRANSFORMS as MMDET_TRANSFORMS
    assert MMDET_TRANSFORMS.get('YOLOXMixUp') is None


# --------------------------------------------------------------------------
# transforms that move but do not drop boxes


def test_flip_resize_pad_then_colour():
    results = make_results(0, np.random.default_rng(7))
    for cfg in [dict(type='RandomFlip', prob=1.0),
                dict(type='Resize', scale=(96, 96), keep_ratio=True,
                     interpolation='nearest'),
                dict(type='Pad', size=(128, 128))]:
        results = TRANSFORMS.build(cfg)(results)
        assert num_boxes(results) == BOXES_PER_IMAGE
    assert check_packed(results, range(BOXES_PER_IMAGE)) == BOXES_PER_IMAGE
    before = copy.deepcopy(results)
    np.random.seed(0)
    for cfg in [dict(type='YOLOXHSVRandomAug'),
                dict(type='PhotoMetricDistortion')]:
        results = TRANSFORMS.build(cfg)(results)
    assert not np.array_equal(results['img'], before['img'])
    a = PackMultiReaderInputs()(results)['data_samples'].gt_instances
    b = PackMultiReaderInputs()(before)['data_samples'].gt_instances
    for key in ('bboxes', 'labels', 'confidences', 'agreements'):
        va, vb = a[key], b[key]
        va = va.tensor if hasattr(va, 'tensor') else va
        vb = vb.tensor if hasattr(vb, 'tensor') else vb
        assert torch.equal(va, vb), key
