"""MultiAnnotatorCocoDataset: readers, fusion at load, cache, errors, pipeline."""
import copy
import json

import cv2
import numpy as np
import pytest
from mmengine.registry import init_default_scope

import mmmulti  # noqa: F401
from mmmulti.datasets import CACHE_STATS, MultiAnnotatorCocoDataset
from mmmulti.io import load_multi_reader_coco
from mmmulti.registry import DATASETS, FUSION_METHODS

SIZE = 64
CATS = [dict(id=1, name='nodule'), dict(id=3, name='mass')]


def _ann(aid, img, cat, reader, x, y, w, h, **extra):
    return dict(id=aid, image_id=img, category_id=cat, bbox=[x, y, w, h],
                area=w * h, iscrowd=0, reader=reader, **extra)


def multi_reader_coco():
    """4 images, readers R8/R9/R10 (R11 on image 3), one bad box."""
    images = [dict(id=i, file_name=f'img{i}.png', width=SIZE, height=SIZE,
                   readers=['R8', 'R9', 'R10']) for i in (1, 2, 4)]
    images.insert(2, dict(id=3, file_name='img3.png', width=SIZE,
                          height=SIZE, readers=['R9', 'R10', 'R11']))
    anns = [
        # image 1: a nodule all three readers drew, a mass two of them drew
        _ann(1, 1, 1, 'R8', 10, 10, 20, 20),
        _ann(2, 1, 1, 'R9', 11, 10, 20, 21),
        _ann(3, 1, 1, 'R10', 10, 12, 19, 20),
        _ann(4, 1, 3, 'R8', 40, 40, 15, 15),
        _ann(5, 1, 3, 'R9', 41, 41, 15, 14),
        # image 2: R10 drew nothing (absent vote); R8 and R9 disagree
        _ann(6, 2, 1, 'R8', 5, 5, 10, 10),
        _ann(7, 2, 3, 'R9', 30, 30, 20, 10),
        _ann(8, 2, 3, 'R9', 50, 5, -4, 10),          # x2 < x1: dropped
        # image 3: read by R9, R10, R11 (not R8)
        _ann(9, 3, 3, 'R11', 20, 20, 10, 10),
        _ann(10, 3, 3, 'R9', 21, 20, 10, 10),
        # image 4: all three readers drew nothing
    ]
    return dict(images=images, annotations=anns, categories=CATS)


def write_data(tmp_path, coco=None, name='train.json'):
    coco = multi_reader_coco() if coco is None else coco
    img_dir = tmp_path / 'images'
    img_dir.mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    for im in coco['images']:
        cv2.imwrite(str(img_dir / im['file_name']),
                    rng.integers(0, 255, (SIZE, SIZE, 3), dtype=np.uint8))
    ann_file = tmp_path / name
    ann_file.write_text(json.dumps(coco))
    return str(ann_file), str(img_dir) + '/'


def infos(ds):
    return [ds.get_data_info(i) for i in range(len(ds))]


def build(ann_file, img_dir, tmp_path, **kw):
    kw.setdefault('cache_dir', str(tmp_path / 'cache'))
    kw.setdefault('pipeline', [])
    kw.setdefault('serialize_data', False)  # mmengine's gc.collect: ~1 s each
    return MultiAnnotatorCocoDataset(ann_file=ann_file,
                                     data_prefix=dict(img=img_dir), **kw)


@pytest.fixture(autouse=True)
def _scope():
    init_default_scope('mmmulti')


@pytest.fixture
def data(tmp_path):
    return write_data(tmp_path)


# --------------------------------------------------------------------------


def test_unfused_keeps_every_reader_box(data, tmp_path):
    ds = build(*data, tmp_path)
    assert len(ds) == 4
    assert ds.metainfo['classes'] == ('nodule', 'mass')
    info = ds.get_data_info(0)
    assert info['image_readers'] == ['R8', 'R9', 'R10']
    assert [i['reader'] for i in info['instances']] == ['R8', 'R9', 'R10', 'R8', 'R9']
    assert [i['bbox_label'] for i in info['instances']] == [0, 0, 0, 1, 1]
    assert info['instances'][0]['bbox'] == [10.0, 10.0, 30.0, 30.0]
    assert all(i['confidence'] == 1.0 and i['agreement'] == 1
               for d in infos(ds) for i in d['instances'])
    assert sum(len(d['instances']) for d in infos(ds)) == 9
    # the bad box is counted, not lost silently
    assert ds.stats['drops']['dropped']['x2<x1'] == 1
    assert 'x2<x1' in repr(ds) and 'boxes in      : 9' in repr(ds)


def test_drops_and_summary_are_logged(data, tmp_path):
    import logging

    from mmengine.logging import MMLogger

    messages = []

    class Collect(logging.Handler):
        def emit(self, record):
            messages.append(record.getMessage())

    logger = MMLogger.get_current_instance()
    handler = Collect(level=logging.INFO)
    logger.addHandler(handler)
    try:
        build(*data, tmp_path, fusion=dict(type='WBF', iou_thr=0.4))
    finally:
        logger.removeHandler(handler)
    text = '\n'.join(messages)
    assert 'dropped boxes: 1' in text and 'x2<x1' in text
    assert 'agreement' in text and 'fused boxes out' in text


def test_readers_restriction(data, tmp_path):
    ds = build(*data, tmp_path, readers=['R8', 'R9', 'R10'])
    info3 = next(d for d in infos(ds) if d['img_id'] == 3)
    assert info3['image_readers'] == ['R9', 'R10']
    assert [i['reader'] for i in info3['instances']] == ['R9']
    assert {i['reader'] for d in infos(ds) for i in d['instances']} == {
        'R8', 'R9', 'R10'}


def test_single_reader_skips_images_it_did_not_read(data, tmp_path):
    ds = build(*data, tmp_path, readers='R8')
    assert [d['img_id'] for d in infos(ds)] == [1, 2, 4]  # R8 did not read 3
    assert ds.stats['images_skipped_no_selected_reader'] == 1
    assert all(d['image_readers'] == ['R8'] for d in infos(ds))
    assert [len(d['instances']) for d in infos(ds)] == [2, 1, 0]
    with pytest.raises(ValueError, match='R7'):
        build(*data, tmp_path, readers=['R7'])


def test_fusion_at_load_matches_the_method(data, tmp_path):
    cfg = dict(type='WBF', iou_thr=0.4)
    ds = build(*data, tmp_path, fusion=cfg, fusion_cache=False)
    src = load_multi_reader_coco(data[0])
    fused = FUSION_METHODS.build(cfg).fuse_dataset(src.reads)
    assert len(ds) == len(fused)
    for info, fb in zip(infos(ds), fused):
        inst = info['instances']
        assert len(inst) == len(fb)
        np.testing.assert_allclose(np.reshape([i['bbox'] for i in inst], (-1, 4)),
                                   fb.boxes.reshape(-1, 4), rtol=0, atol=1e-4)
        assert [i['confidence'] for i in inst] == fb.confidences.tolist()
        assert [i['agreement'] for i in inst] == fb.agreement.tolist()
        assert all(i['reader'] == '' for i in inst)
    img1 = {i['bbox_label']: i for i in infos(ds)[0]['instances']}
    assert img1[0]['agreement'] == 3 and img1[0]['confidence'] == 1.0
    assert img1[1]['agreement'] == 2
    assert img1[1]['confidence'] == pytest.approx(2 / 3)
    img2 = infos(ds)[1]['instances']  # R10's absent vote counts in R = 3
    assert sorted(i['confidence'] for i in img2) == pytest.approx([1 / 3, 1 / 3])
    assert infos(ds)[3]['instances'] == []


def test_filter_empty_gt_with_fusion(data, tmp_path):
    ds = build(*data, tmp_path, fusion=dict(type='WBF'),
               filter_cfg=dict(filter_empty_gt=True))
    assert sorted(ds.get_data_info(i)['img_id'] for i in range(len(ds))) == [1, 2, 3]
    test = build(*data, tmp_path, fusion=dict(type='WBF'), test_mode=True,
                 filter_cfg=dict(filter_empty_gt=True))
    assert len(test) == 4


def _snapshot(ds):
    return [copy.deepcopy(ds.get_data_info(i)) for i in range(len(ds))]


def test_fusion_cache_hit_and_invalidation(data, tmp_path, monkeypatch):
    ann_file, img_dir = data
    cfg = dict(type='WBF', iou_thr=0.4)
    before = dict(CACHE_STATS)
    first = build(ann_file, img_dir, tmp_path, fusion=cfg)
    assert first.cache_hit is False
    assert CACHE_STATS['write'] == before.get('write', 0) + 1

    # second load: read from the cache, the fusion method is never called
    from mmmulti.fusion import WBF

    def boom(self, reads):
        raise AssertionError('fused again instead of reading the cache')

    monkeypatch.setattr(WBF, 'fuse_dataset', boom)
    hits = CACHE_STATS['hit']
    second = build(ann_file, img_dir, tmp_path, fusion=cfg)
    assert second.cache_hit is True and CACHE_STATS['hit'] == hits + 1
    assert second.cache_file == first.cache_file
    assert _snapshot(second) == _snapshot(first)
    assert second.stats['drops'] == first.stats['drops']
    # settings that do not change the result share the entry
    assert build(ann_file, img_dir, tmp_path,
                 fusion=dict(cfg, progress=False)).cache_hit is True
    monkeypatch.undo()

    # another fusion config -> another entry
    other = build(ann_file, img_dir, tmp_path, fusion=dict(cfg, iou_thr=0.6))
    assert other.cache_hit is False and other.cache_file != first.cache_file
    # another reader restriction -> another entry
    assert build(ann_file, img_dir, tmp_path, fusion=cfg,
                 readers=['R8', 'R9']).cache_hit is False
    # changed file content (same name) -> another entry, new boxes
    coco = multi_reader_coco()
    coco['annotations'].append(_ann(11, 4, 1, 'R8', 30, 30, 10, 10))
    with open(ann_file, 'w') as f:
        json.dump(coco, f)
    changed = build(ann_file, img_dir, tmp_path, fusion=cfg)
    assert changed.cache_hit is False
    assert len(changed.get_data_info(3)['instances']) == 1
    # fusion_cache=False never touches the cache
    off = build(ann_file, img_dir, tmp_path, fusion=cfg, fusion_cache=False)
    assert off.cache_hit is None and off.cache_file is None


def test_dataset_level_fusion_at_load(data, tmp_path):
    ds = build(*data, tmp_path, fusion=dict(type='ReliabilityWBF', max_iter=3))
    confs = [i['confidence'] for d in infos(ds) for i in d['instances']]
    assert confs and all(0 < c <= 1 for c in confs)


@pytest.mark.parametrize('mutate,match', [
    (lambda c: c['annotations'].append(_ann(99, 42, 1, 'R8', 1, 1, 5, 5)),
     r'train.json: annotation id 99 \(image 42\)'),
    (lambda c: c['annotations'].append(_ann(2, 1, 1, 'R8', 1, 1, 5, 5)),
     'train.json: annotation id 2 .*duplicate'),
    (lambda c: c['annotations'][0].pop('reader'),
     'train.json: annotation id 1 .*reader'),
])
def test_bad_input_names_file_and_record(tmp_path, mutate, match):
    coco = multi_reader_coco()
    mutate(coco)
    ann_file, img_dir = write_data(tmp_path, coco)
    with pytest.raises(ValueError, match=match):
        build(ann_file, img_dir, tmp_path)


def test_unknown_class_is_an_error(data, tmp_path):
    with pytest.raises(ValueError, match="train.json: classes \\['lesion'\\]"):
        build(*data, tmp_path, metainfo=dict(classes=('nodule', 'lesion')))


def test_classes_subset_uses_file_order_like_coco_metric(data, tmp_path):
    ds = build(*data, tmp_path, metainfo=dict(classes=('mass', )))
    assert ds.cat_ids == [3] and ds.stats['not_in_classes'] == 4
    assert {i['bbox_label'] for d in infos(ds) for i in d['instances']} == {0}


def test_clean_single_truth_coco(tmp_path):
    coco = multi_reader_coco()
    for im in coco['images']:
        im.pop('readers')
    for a in coco['annotations']:
        a.pop('reader')
    coco['annotations'] = [a for a in coco['annotations'] if a['bbox'][2] > 0]
    ann_file, img_dir = write_data(tmp_path, coco, 'test.json')
    ds = build(ann_file, img_dir, tmp_path, test_mode=True)
    inst = [i for d in infos(ds) for i in d['instances']]
    assert len(inst) == 9
    assert all(i['confidence'] == 1.0 and i['agreement'] == 1 for i in inst)


def test_registry_and_plain_mmdet_pipeline_carry_confidences(data, tmp_path):
    """mmdet's transform names under default_scope='mmmulti' carry weights."""
    ann_file, img_dir = data
    ds = DATASETS.build(dict(
        type='MultiAnnotatorCocoDataset', ann_file=ann_file,
        data_prefix=dict(img=img_dir), fusion=dict(type='WBF', iou_thr=0.4),
        cache_dir=str(tmp_path / 'cache'),
        filter_cfg=dict(filter_empty_gt=True),
        pipeline=[
            dict(type='LoadImageCheckSize'),
            dict(type='LoadMultiReaderAnnotations', with_bbox=True),
            dict(type='RandomFlip', prob=1.0),
            dict(type='Resize', scale=(48, 48), keep_ratio=True),
            dict(type='FilterAnnotations', min_gt_bbox_wh=(1, 1)),
            dict(type='PackMultiReaderInputs'),
        ]))
    assert isinstance(ds, MultiAnnotatorCocoDataset)
    for idx in range(len(ds)):
        out = ds[idx]
        inst = out['data_samples'].gt_instances
        src = ds.get_data_info(idx)['instances']
        assert inst.confidences.tolist() == pytest.approx(
            [i['confidence'] for i in src])
        assert inst.agreements.tolist() == [i['agreement'] for i in src]
        assert inst.labels.tolist() == [i['bbox_label'] for i in src]
        # flipped and resized 64 -> 48
        x1 = [SIZE - i['bbox'][2] for i in src]
        assert inst.bboxes.tensor[:, 0].tolist() == pytest.approx(
            [v * 0.75 for v in x1], abs=1e-3)


def test_mosaic_through_multi_image_mix_dataset(data, tmp_path):
    ann_file, img_dir = data
    ds = DATASETS.build(dict(
        type='MultiImageMixDataset',
        dataset=dict(type='MultiAnnotatorCocoDataset', ann_file=ann_file,
                     data_prefix=dict(img=img_dir), fusion=dict(type='WBF'),
                     cache_dir=str(tmp_path / 'cache'),
                     pipeline=[dict(type='LoadImageCheckSize'),
                               dict(type='LoadMultiReaderAnnotations', with_bbox=True)]),
        pipeline=[dict(type='Mosaic', img_scale=(SIZE, SIZE)),
                  dict(type='RandomAffine', border=(-SIZE // 2, -SIZE // 2)),
                  dict(type='PackMultiReaderInputs')]))
    weights = {(i['bbox_label'], i['confidence'], i['agreement'])
               for d in infos(ds.dataset) for i in d['instances']}
    seen = set()
    np.random.seed(0)
    for k in range(8):
        inst = ds[k % len(ds)]['data_samples'].gt_instances
        for lab, c, a in zip(inst.labels.tolist(), inst.confidences.tolist(),
                             inst.agreements.tolist()):
            key = next(w for w in weights
                       if w[0] == lab and w[2] == a and abs(w[1] - c) < 1e-7)
            seen.add(key)
    assert len(seen) >= 3


def test_fuse_annotations_in_pipeline_matches_fusion_at_load(data, tmp_path):
    ann_file, img_dir = data
    cfg = dict(type='WBF', iou_thr=0.4)
    online = build(ann_file, img_dir, tmp_path, pipeline=[
        dict(type='LoadImageCheckSize'),
        dict(type='LoadMultiReaderAnnotations', with_bbox=True),
        dict(type='FuseAnnotations', fusion=cfg),
        dict(type='PackMultiReaderInputs')])
    at_load = build(ann_file, img_dir, tmp_path, fusion=cfg)
    assert len(online) == len(at_load)
    for idx in range(len(online)):
        inst = online[idx]['data_samples'].gt_instances
        ref = at_load.get_data_info(idx)['instances']
        assert len(inst) == len(ref)
        np.testing.assert_allclose(inst.bboxes.tensor.numpy().reshape(-1, 4),
                                   np.reshape([i['bbox'] for i in ref], (-1, 4)),
                                   atol=1e-4)
        assert inst.confidences.tolist() == [i['confidence'] for i in ref]
        assert inst.agreements.tolist() == [i['agreement'] for i in ref]


def test_lazy_init_still_knows_the_file_classes(data, tmp_path):
    ds = build(*data, tmp_path, lazy_init=True)
    assert ds.metainfo['classes'] == ('nodule', 'mass')
    assert ds.stats['readers'] == ['R8', 'R9', 'R10', 'R11']


def test_weights_survive_collate_and_data_preprocessor(data, tmp_path):
    """Through a DataLoader (pseudo_collate) and DetDataPreprocessor with a
    batch resize, as in training."""
    from mmengine.dataset import pseudo_collate
    from torch.utils.data import DataLoader

    from mmmulti.registry import MODELS
    ann_file, img_dir = data
    ds = build(ann_file, img_dir, tmp_path, fusion=dict(type='WBF'),
               pipeline=[dict(type='LoadImageCheckSize'),
                         dict(type='LoadMultiReaderAnnotations', with_bbox=True),
                         dict(type='PackMultiReaderInputs')])
    pre = MODELS.build(dict(
        type='DetDataPreprocessor', pad_size_divisor=32,
        batch_augments=[dict(type='BatchSyncRandomResize',
                             random_size_range=(96, 96), interval=1)]))
    from mmengine.logging import MessageHub
    MessageHub.get_current_instance().update_info('iter', 0)
    loader = DataLoader(ds, batch_size=4, collate_fn=pseudo_collate)
    batch = pre(next(iter(loader)), training=True)
    for k, sample in enumerate(batch['data_samples']):
        ref = ds.get_data_info(k)['instances']
        inst = sample.gt_instances
        assert inst.confidences.tolist() == [i['confidence'] for i in ref]
        assert inst.agreements.tolist() == [i['agreement'] for i in ref]
        assert len(inst.bboxes) == len(ref)


def test_config_file_with_mmdet_names_through_runner_dataloader(data, tmp_path):
    """A config written with mmdet's transform names and default_scope
    'mmmulti', built the way the Runner builds it."""
    from mmengine.config import Config
    from mmengine.runner import Runner
    ann_file, img_dir = data
    cfg_file = tmp_path / 'cfg.py'
    cfg_file.write_text(f'''
default_scope = 'mmmulti'
custom_imports = dict(imports=['mmmulti'], allow_failed_imports=False)
train_dataloader = dict(
    batch_size=2, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='MultiAnnotatorCocoDataset', ann_file={ann_file!r},
        data_prefix=dict(img={img_dir!r}), cache_dir={str(tmp_path / 'c')!r},
        fusion=dict(type='WBF', iou_thr=0.4),
        pipeline=[dict(type='LoadImageCheckSize'),
                  dict(type='LoadMultiReaderAnnotations', with_bbox=True),
                  dict(type='RandomCrop', crop_size=(48, 48)),
                  dict(type='Resize', scale=(32, 32), keep_ratio=True),
                  dict(type='PackMultiReaderInputs')]))
''')
    cfg = Config.fromfile(str(cfg_file))
    init_default_scope(cfg.default_scope)
    loader = Runner.build_dataloader(cfg.train_dataloader, seed=0)
    weights = {(i['bbox_label'], i['confidence'], i['agreement'])
               for d in infos(loader.dataset) for i in d['instances']}
    n = 0
    for batch in loader:
        for sample in batch['data_samples']:
            inst = sample.gt_instances
            assert inst.confidences.dtype.is_floating_point
            for lab, c, a in zip(inst.labels.tolist(), inst.confidences.tolist(),
                                 inst.agreements.tolist()):
                assert any(w[0] == lab and w[2] == a and abs(w[1] - c) < 1e-7
                           for w in weights)
                n += 1
    assert n > 0
