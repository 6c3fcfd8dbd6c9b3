"""SoftWBF: class-agnostic clusters with the readers' class votes as soft targets,
carried as class-split rows, merged at packing, trained by YOLOv5Head and the
AnchorHead family."""
import copy

import numpy as np
import pytest
import torch
from ensemble_boxes import weighted_boxes_fusion as eb_wbf
from mmengine.structures import InstanceData

import mmmulti  # noqa: F401
from mmmulti.datasets.transforms import merge_class_split_rows
from mmmulti.fusion import WBF, SoftWBF, build_fusion
from mmmulti.fusion.soft_wbf import reader_class_shares
from mmmulti.models.class_targets import gt_class_targets
from mmmulti.structures import ImageReads
from test_earl import HEADS, METAS, build_earl, build_head, head_outputs, make_gts

C = 3


def reads(boxes, labels, readers, image_readers=('r1', 'r2', 'r3')):
    return ImageReads(np.asarray(boxes, float), labels, np.asarray(readers, object),
                      list(image_readers), 100.0, 100.0)


def test_reader_class_shares_give_each_reader_one_vote():
    shares = reader_class_shares(np.array(['a', 'b', 'c', 'c'], object), np.array([1, 1, 2, 1]))
    assert shares == pytest.approx({1: (1 + 1 + 0.5) / 3, 2: 0.5 / 3})
    assert sum(shares.values()) == pytest.approx(1.0)


def test_disagreeing_readers_give_one_box_split_by_class():
    r = reads([[10, 10, 50, 50], [12, 11, 52, 49], [11, 9, 49, 51], [70, 70, 90, 90]],
              [1, 1, 2, 0], ['r1', 'r2', 'r3', 'r1'])
    out = SoftWBF(iou_thr=0.4).fuse(r)
    # the first cluster: 2 rows (class 1 share 2/3, class 2 share 1/3), c = 3/3
    assert out.labels.tolist() == [1, 2, 0]
    np.testing.assert_allclose(out.confidences, [2 / 3, 1 / 3, 1 / 3], rtol=1e-6)
    assert out.agreement.tolist() == [3, 3, 1]
    assert np.array_equal(out.boxes[0], out.boxes[1])
    # the box is class-agnostic WBF's (ensemble_boxes as the oracle, all labels 0)
    b = [r.boxes[r.readers == k] / 100 for k in ('r1', 'r2', 'r3')]
    eb_boxes, _, _ = eb_wbf(b, [np.ones(len(x)) for x in b], [np.zeros(len(x)) for x in b],
                            iou_thr=0.4, skip_box_thr=0.0)
    got = np.unique(out.boxes.astype(np.float64) / 100, axis=0)
    np.testing.assert_allclose(got, np.unique(eb_boxes, axis=0), atol=1e-6)
    # plain WBF keeps the classes apart: three boxes of lower agreement
    hard = WBF(iou_thr=0.4).fuse(r)
    assert sorted(hard.agreement.tolist()) == [1, 1, 2]


def test_unanimous_clusters_equal_plain_wbf():
    """Findings far apart, each drawn by 2-3 readers with one class: SoftWBF's
    clusters are WBF's, one row each, same boxes and confidences."""
    rng = np.random.default_rng(0)
    boxes, labels, readers = [], [], []
    for k, xy in enumerate([(2, 2), (50, 2), (2, 50), (50, 50)]):
        for r in ('r1', 'r2', 'r3')[:2 + k % 2]:
            j = rng.normal(0, 1, 2)
            boxes.append([xy[0] + j[0], xy[1] + j[1], xy[0] + 40 + j[0], xy[1] + 40 + j[1]])
            labels.append(k % C)
            readers.append(r)
    r = reads(boxes, labels, readers)
    soft, hard = SoftWBF(iou_thr=0.55).fuse(r), WBF(iou_thr=0.55).fuse(r)
    assert len(soft) == len(hard) == 4

    def key(f):
        return sorted(zip(f.labels.tolist(), np.round(f.boxes, 4).tolist(),
                          f.confidences.tolist(), f.agreement.tolist()))
    assert key(soft) == key(hard)


def test_cli_name_and_empty_image():
    assert isinstance(build_fusion('soft_wbf', iou_thr=0.5), SoftWBF)
    assert len(SoftWBF().fuse(reads(np.zeros((0, 4)), [], []))) == 0


def test_merge_class_split_rows():
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [5, 5, 9, 9], [0, 0, 10, 10.]])
    keep, labels, conf, idx, shares = merge_class_split_rows(
        boxes, [2, 0, 1, 1], np.float32([0.4, 0.2, 1 / 3, 1.0]), [3, 3, 1, 3],
        np.zeros(4, bool))
    # rows 0-1 merge; row 3 repeats row 0's box but is not consecutive
    assert keep.tolist() == [0, 2, 3]
    assert labels.tolist() == [2, 1, 1]
    np.testing.assert_allclose(conf, [0.6, 1 / 3, 1.0], rtol=1e-6)
    assert idx.tolist() == [[2, 0], [1, -1], [1, -1]]
    np.testing.assert_allclose(shares, [[2 / 3, 1 / 3], [1, 0], [1, 0]], rtol=1e-6)


def _write_coco(tmp_path):
    """One 64 px image; three readers on one finding, two call it 1, one 2."""
    import json

    import cv2
    img_dir = tmp_path / 'img'
    img_dir.mkdir()
    cv2.imwrite(str(img_dir / 'a.png'), np.zeros((64, 64, 3), np.uint8))
    anns = [dict(id=i + 1, image_id=1, category_id=cat, reader=r, bbox=[10 + i, 10, 30, 30],
                 area=900, iscrowd=0)
            for i, (r, cat) in enumerate([('r1', 2), ('r2', 2), ('r3', 3)])]
    coco = dict(images=[dict(id=1, file_name='a.png', width=64, height=64,
                             readers=['r1', 'r2', 'r3'])],
                annotations=anns,
                categories=[dict(id=k, name=str(k)) for k in (1, 2, 3)])
    path = tmp_path / 'ann.json'
    path.write_text(json.dumps(coco))
    return path, img_dir


@pytest.mark.parametrize('extra', [[], [dict(type='RandomFlip', prob=1.0)]])
def test_dataset_pipeline_gives_one_gt_with_shares(tmp_path, extra):
    from mmengine.registry import init_default_scope

    from mmmulti.registry import DATASETS
    init_default_scope('mmmulti')
    path, img_dir = _write_coco(tmp_path)
    ds = DATASETS.build(dict(
        type='MultiAnnotatorCocoDataset', ann_file=str(path),
        data_prefix=dict(img=str(img_dir) + '/'), fusion=dict(type='SoftWBF', iou_thr=0.4),
        fusion_cache=False, filter_cfg=dict(filter_empty_gt=False),
        pipeline=[dict(type='LoadImageCheckSize'),
                  dict(type='LoadMultiReaderAnnotations', with_bbox=True), *extra,
                  dict(type='PackMultiReaderInputs')]))
    gt = ds[0]['data_samples'].gt_instances
    assert len(gt) == 1
    assert gt.labels.tolist() == [1]  # category 2, the majority
    assert gt.confidences.tolist() == pytest.approx([1.0])
    assert gt.agreements.tolist() == [3]
    targets = gt_class_targets(gt, 3)
    assert targets.tolist()[0] == pytest.approx([0, 2 / 3, 1 / 3])


def with_shares(gts, shares):
    """Copies of ``gts`` whose every box has the (C,) class ``shares``."""
    out = []
    for gt in gts:
        gt = copy.deepcopy(gt)
        n = len(gt)
        gt.class_share_labels = torch.arange(C).repeat(n, 1)
        gt.class_shares = torch.tensor(shares, dtype=torch.float32).repeat(n, 1)
        gt.labels = torch.full((n, ), int(np.argmax(shares)))
        out.append(gt)
    return out


def one_hot_shares(gts):
    out = []
    for gt in gts:
        gt = copy.deepcopy(gt)
        gt.class_share_labels = gt.labels[:, None].clone()
        gt.class_shares = torch.ones(len(gt), 1)
        out.append(gt)
    return out


def relabel(gts, label):
    out = []
    for gt in gts:
        gt = copy.deepcopy(gt)
        gt.labels = torch.full((len(gt), ), label)
        out.append(gt)
    return out


BCE = dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0)


def soft_heads():
    yield 'yolov5', build_head('yolov5')
    yield 'yolov5-earl', build_earl('yolov5', weight_mode='fraction')
    yield 'retina-earl', _retina_bce_earl()
    yield 'effdet-earl', build_earl('effdet', weight_mode='fraction')


def _retina_bce_earl():
    cfg = copy.deepcopy(HEADS['retina'])
    cfg.pop('type')
    cfg['loss_cls'] = BCE
    torch.manual_seed(0)
    from mmmulti.registry import MODELS
    return MODELS.build(dict(type='EARL', head_type='RetinaHead',
                             earl=dict(weight_mode='fraction'), **cfg))


def _losses(head, gts):
    outs = head_outputs(head)
    losses = head.loss_by_feat(*outs, gts, METAS)
    return {k: (sum(v) if isinstance(v, list) else v) for k, v in losses.items()}


@pytest.mark.parametrize('name', ['yolov5', 'yolov5-earl', 'retina-earl', 'effdet-earl'])
def test_one_hot_shares_give_the_hard_losses(name):
    head = dict(soft_heads())[name]
    gts = make_gts([[1.0, 0.5, 0.25]] * 2)
    hard, soft = _losses(head, gts), _losses(head, one_hot_shares(gts))
    for k in hard:
        torch.testing.assert_close(soft[k], hard[k], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize('name', ['yolov5', 'yolov5-earl', 'retina-earl'])
def test_soft_class_loss_is_the_share_weighted_hard_losses(name):
    """BCE is linear in its target: shares (0.7, 0.3, 0) give 0.7 x the class
    loss with every box labelled 0 plus 0.3 x that with every box labelled 1;
    the box loss is the hard one's."""
    head = dict(soft_heads())[name]
    gts = make_gts([[1.0, 0.5, 0.25]] * 2)
    soft = _losses(head, with_shares(gts, [0.7, 0.3, 0.0]))
    l0, l1 = _losses(head, relabel(gts, 0)), _losses(head, relabel(gts, 1))
    cls = 'loss_cls'
    torch.testing.assert_close(soft[cls], 0.7 * l0[cls] + 0.3 * l1[cls], rtol=1e-5, atol=1e-6)
    box = 'loss_box' if 'loss_box' in soft else 'loss_bbox'
    torch.testing.assert_close(soft[box], l0[box], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize('name', ['fcos', 'atss', 'yolox'])
def test_heads_without_soft_targets_refuse_shares(name):
    head = build_earl(name)
    gts = one_hot_shares(make_gts())
    with pytest.raises(TypeError, match='class shares'):
        head.loss_by_feat(*head_outputs(head), gts, METAS)


# --------------------------------------------------------------------------
# Dawid-Skene class aggregation on the same clusters
# --------------------------------------------------------------------------
def _confused_readers(n=300, seed=0):
    """One finding per image, true class t in 0..2. r1 and r2 are right 70 % of
    the time (else a random other class); r3 swaps classes 0 and 1, always."""
    from mmmulti.fusion import DawidSkeneWBF  # noqa: F401
    rng = np.random.default_rng(seed)
    truth, data = [], []
    for _ in range(n):
        t = int(rng.integers(0, C))
        truth.append(t)
        boxes, labels, readers = [], [], []
        for r in ('r1', 'r2', 'r3'):
            if r == 'r3':
                lab = {0: 1, 1: 0}.get(t, t)
            else:
                lab = t if rng.random() < 0.7 else int(rng.choice([k for k in range(C) if k != t]))
            j = rng.normal(0, 1, 2)
            boxes.append([20 + j[0], 20 + j[1], 60 + j[0], 60 + j[1]])
            labels.append(lab)
            readers.append(r)
        data.append(reads(boxes, labels, readers))
    return np.array(truth), data


def test_dawid_skene_learns_a_confused_reader_and_beats_the_vote():
    from mmmulti.fusion import DawidSkeneWBF
    truth, data = _confused_readers()
    ds = DawidSkeneWBF(iou_thr=0.4, progress=False)
    fused = ds.fuse_dataset(data)
    vote = SoftWBF(iou_thr=0.4, progress=False).fuse_dataset(data)
    # one cluster per image; its first row is the most probable class
    ds_acc = np.mean([f.labels[0] == t for f, t in zip(fused, truth)])
    vote_acc = np.mean([v.labels[0] == t for v, t in zip(vote, truth)])
    assert ds_acc > vote_acc + 0.05 and ds_acc > 0.9, (ds_acc, vote_acc)
    r3 = ds._readers.index('r3')
    assert ds.confusion[r3, 0, 1] > 0.8 and ds.confusion[r3, 1, 0] > 0.8  # the swap
    assert ds.confusion[r3, 2, 2] > 0.8
    est = ds.reader_estimates
    assert est['r3']['accuracy'] < est['r1']['accuracy']
    assert 'r3' in ds.report() and ds.iterations >= 2
    for f in fused:  # rows of each cluster: confidences sum to c = 1
        assert f.confidences.sum() == pytest.approx(1.0, abs=1e-5)
    # the fitted model fuses a single image the same way
    one = ds.fuse(data[0])
    assert one.labels.tolist() == fused[0].labels.tolist()
    np.testing.assert_allclose(one.confidences, fused[0].confidences, rtol=1e-5)


def test_dawid_skene_on_unanimous_readers_is_soft_wbf():
    from mmmulti.fusion import DawidSkeneWBF
    data = [reads([[10, 10, 50, 50], [11, 10, 51, 50]], [k % C, k % C], ['r1', 'r2'])
            for k in range(300)]
    ds = DawidSkeneWBF(progress=False).fuse_dataset(data)
    soft = SoftWBF(progress=False).fuse_dataset(data)
    for a, b in zip(ds, soft):
        assert a.labels.tolist() == b.labels.tolist()
        np.testing.assert_allclose(a.confidences, b.confidences, rtol=1e-6)
    assert isinstance(build_fusion('dawid_skene_wbf'), DawidSkeneWBF)


def test_online_fusion_in_the_pipeline_merges_rows_after_a_flip():
    from mmengine.registry import init_default_scope

    from mmmulti.datasets.transforms import (FuseAnnotations, LoadMultiReaderAnnotations,
                                             PackMultiReaderInputs)
    from mmmulti.registry import TRANSFORMS
    init_default_scope('mmmulti')
    info = dict(height=64, width=64, img_id=0, img_path='0.png', image_readers=['a', 'b', 'c'],
                img_shape=(64, 64), img=np.zeros((64, 64, 3), np.uint8),
                instances=[dict(bbox=[10 + i, 10, 40, 40], bbox_label=lab, ignore_flag=0,
                                reader=r) for i, (r, lab) in enumerate(
                                    [('a', 0), ('b', 2), ('c', 2)])]
                + [dict(bbox=[45, 45, 60, 60], bbox_label=1, ignore_flag=0, reader='a')])
    out = FuseAnnotations(dict(type='SoftWBF'))(LoadMultiReaderAnnotations()(info))
    assert len(out['gt_bboxes']) == 3  # two rows for the disagreed box, one for the other
    out = TRANSFORMS.build(dict(type='RandomFlip', prob=1.0))(out)
    gt = PackMultiReaderInputs()(out)['data_samples'].gt_instances
    assert gt.labels.tolist() == [2, 1]
    assert gt.confidences.tolist() == pytest.approx([1.0, 1 / 3])
    np.testing.assert_allclose(gt_class_targets(gt, 3).numpy(), [[1 / 3, 0, 2 / 3], [0, 1, 0]],
                               rtol=1e-6)


def test_a_fused_file_of_soft_wbf_trains_as_merged_boxes(tmp_path):
    """tools/fuse_annotations.py --method soft_wbf writes class-split rows and
    says so in info.fusion; a data set reading that file merges them back."""
    import json

    from mmengine.registry import init_default_scope

    from mmmulti.fusion.pipeline import fuse_coco_file
    from mmmulti.registry import DATASETS
    init_default_scope('mmmulti')
    path, img_dir = _write_coco(tmp_path)
    out = tmp_path / 'fused.json'
    fuse_coco_file(str(path), str(out), SoftWBF())
    written = json.loads(out.read_text())
    assert written['info']['fusion']['class_split'] is True
    assert len(written['annotations']) == 2
    ds = DATASETS.build(dict(
        type='MultiAnnotatorCocoDataset', ann_file=str(out),
        data_prefix=dict(img=str(img_dir) + '/'), filter_cfg=dict(filter_empty_gt=False),
        pipeline=[dict(type='LoadImageCheckSize'),
                  dict(type='LoadMultiReaderAnnotations', with_bbox=True),
                  dict(type='PackMultiReaderInputs')]))
    gt = ds[0]['data_samples'].gt_instances
    assert gt.labels.tolist() == [1] and gt.confidences.tolist() == pytest.approx([1.0])
    assert gt_class_targets(gt, 3).tolist()[0] == pytest.approx([0, 2 / 3, 1 / 3])
