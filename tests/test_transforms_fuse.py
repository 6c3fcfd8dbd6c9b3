"""FuseAnnotations: online fusion in the pipeline equals the fusion method."""
import numpy as np
import pytest
from mmengine.registry import init_default_scope

import mmmulti  # noqa: F401
from mmmulti.datasets.transforms import (FuseAnnotations, LoadMultiReaderAnnotations,
                                         PackMultiReaderInputs, unpack_box_weights)
from mmmulti.fusion import ImageReads
from mmmulti.registry import FUSION_METHODS, TRANSFORMS

W, H = 100, 80


def reader_boxes(seed: int):
    """Three readers drawing jittered copies of a few objects (some missed)."""
    rng = np.random.default_rng(seed)
    objects = [(10, 10, 40, 35, 0), (50, 40, 90, 75, 1), (60, 5, 80, 20, 0)]
    boxes, labels, readers = [], [], []
    for r in ('R8', 'R9', 'R10'):
        for x1, y1, x2, y2, lab in objects:
            if rng.random() < 0.3:
                continue  # this reader missed it
            j = rng.uniform(-2, 2, 4)
            boxes.append([x1 + j[0], y1 + j[1], x2 + j[2], y2 + j[3]])
            labels.append(lab)
            readers.append(r)
    return np.array(boxes, np.float32), np.array(labels), np.array(readers, object)


def loaded(seed, image_readers=('R8', 'R9', 'R10', 'R11'), box_type='hbox'):
    boxes, labels, readers = reader_boxes(seed)
    info = dict(height=H, width=W, img_id=seed, img_path=f'{seed}.png',
                instances=[dict(bbox=b.tolist(), bbox_label=int(l), ignore_flag=0,
                                reader=r) for b, l, r in zip(boxes, labels, readers)])
    if image_readers is not None:
        info['image_readers'] = list(image_readers)
    return LoadMultiReaderAnnotations(box_type=box_type)(info), (boxes, labels, readers)


@pytest.fixture(autouse=True)
def _scope():
    init_default_scope('mmmulti')


@pytest.mark.parametrize('cfg', [dict(type='WBF', iou_thr=0.4),
                                 dict(type='MajorityVote'),
                                 dict(type='NMS', iou_thr=0.5)])
@pytest.mark.parametrize('seed', [0, 1, 2])
def test_same_boxes_as_the_method(cfg, seed):
    results, (boxes, labels, readers) = loaded(seed)
    out = TRANSFORMS.build(dict(type='FuseAnnotations', fusion=cfg))(results)
    expected = FUSION_METHODS.build(cfg).fuse(ImageReads(
        boxes=boxes, labels=labels, readers=readers,
        image_readers=['R8', 'R9', 'R10', 'R11'], width=W, height=H))
    assert len(expected) > 0
    inst = PackMultiReaderInputs()(out)['data_samples'].gt_instances
    np.testing.assert_array_equal(inst.bboxes.tensor.numpy(), expected.boxes)
    np.testing.assert_array_equal(inst.labels.numpy(), expected.labels)
    np.testing.assert_array_equal(inst.confidences.numpy(), expected.confidences)
    np.testing.assert_array_equal(inst.agreements.numpy(), expected.agreement)
    assert not out['gt_ignore_flags'].any()
    assert (out['gt_readers'] == '').all()


def test_absent_reader_counts_in_r():
    """R11 read the image and drew nothing: confidences are over R = 4."""
    results, _ = loaded(0)
    out = FuseAnnotations(dict(type='WBF'))(results)
    _, conf, agr = unpack_box_weights(out)
    np.testing.assert_allclose(conf, np.minimum(agr, 4) / 4, rtol=1e-6)
    # without image_readers, the readers of the boxes are the readers
    results, _ = loaded(0, image_readers=None)
    _, conf3, agr3 = unpack_box_weights(FuseAnnotations(dict(type='WBF'))(results))
    np.testing.assert_allclose(conf3, agr3 / 3, rtol=1e-6)


def test_numpy_boxes_stay_numpy():
    results, _ = loaded(1, box_type=None)
    out = FuseAnnotations(dict(type='WBF'))(results)
    assert isinstance(out['gt_bboxes'], np.ndarray)
    assert out['gt_bboxes'].shape == (len(out['gt_bboxes_labels']), 4)


def test_ignored_boxes_are_kept_not_fused():
    results, (boxes, _, _) = loaded(2)
    results['gt_ignore_flags'][0] = True
    out = FuseAnnotations(dict(type='WBF'))(results)
    assert out['gt_ignore_flags'].sum() == 1
    assert out['gt_bboxes'].tensor[-1].tolist() == pytest.approx(boxes[0].tolist())
    assert out['gt_readers'][-1] == 'R8'


def test_dataset_level_method_is_refused():
    with pytest.raises(ValueError, match='fusion='):
        FuseAnnotations(dict(type='ReliabilityWBF'))


def test_after_a_dropping_transform_is_refused():
    results, _ = loaded(0)
    results = TRANSFORMS.build(dict(type='FilterAnnotations',
                                    min_gt_bbox_wh=(25, 25)))(results)
    with pytest.raises(ValueError, match='right after LoadMultiReaderAnnotations'):
        FuseAnnotations(dict(type='WBF'))(results)


def test_fused_weights_survive_later_dropping_transforms():
    results, _ = loaded(0)
    out = FuseAnnotations(dict(type='WBF'))(results)
    _, conf, agr = unpack_box_weights(out)
    by_box = {tuple(np.round(b, 3)): (c, a) for b, c, a in
              zip(out['gt_bboxes'].tensor.numpy().tolist(), conf, agr)}
    small = out['gt_bboxes'].widths.numpy() < 25
    assert small.any() and not small.all()
    out = TRANSFORMS.build(dict(type='FilterAnnotations',
                                min_gt_bbox_wh=(25, 1)))(out)
    inst = PackMultiReaderInputs()(out)['data_samples'].gt_instances
    assert len(inst) == int((~small).sum())
    for b, c, a in zip(inst.bboxes.tensor.numpy().tolist(),
                       inst.confidences.tolist(), inst.agreements.tolist()):
        assert by_box[tuple(np.round(b, 3))] == (c, a)


def test_get_gt_readers_only_while_aligned():
    from mmmulti.datasets.transforms import get_gt_readers
    results, (_, _, readers) = loaded(0)
    assert get_gt_readers(results).tolist() == readers.tolist()
    results['img'] = np.zeros((H, W, 3), np.uint8)
    results['img_shape'] = (H, W)
    results = TRANSFORMS.build(dict(type='RandomFlip', prob=1.0))(results)
    assert get_gt_readers(results).tolist() == readers.tolist()  # no drop
    results = TRANSFORMS.build(dict(type='FilterAnnotations',
                                    min_gt_bbox_wh=(25, 25)))(results)
    assert len(results['gt_bboxes']) < len(readers)
    assert get_gt_readers(results) is None
