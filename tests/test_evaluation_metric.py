"""mAP@0.4 and COCO mAP of MultiReaderDetMetric / evaluate_coco_results equal
pycocotools COCOeval run directly, on randomised detections."""
import contextlib
import copy
import io
import json
import os.path as osp

import numpy as np
import pytest
import torch
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from mmmulti.evaluation import evaluate_coco_results
from mmmulti.registry import METRICS

# json order deliberately unsorted: label i -> i-th category of the file (mmdet),
# while pycocotools sorts category ids internally
CATEGORIES = [dict(id=7, name='nodule'), dict(id=1, name='effusion'),
              dict(id=11, name='fibrosis'), dict(id=3, name='mass'),
              dict(id=10, name='cardiomegaly')]
NO_GT_CATS = (11, 10)  # classes with predictions but no gt box
SEEDS = (0, 1, 2, 3)


def random_case(seed: int, n_images: int = 14):
    """A gt COCO dict and randomised COCO results (true hits, jittered boxes,
    false positives, predictions of classes that have no gt)."""
    rng = np.random.default_rng(seed)
    gt_cats = [c['id'] for c in CATEGORIES if c['id'] not in NO_GT_CATS]
    all_cats = [c['id'] for c in CATEGORIES]
    images, anns, results = [], [], []
    for img_id in range(1, n_images + 1):
        w, h = (int(v) for v in rng.integers(60, 400, size=2))
        images.append(dict(id=img_id, file_name=f'{img_id}.png', width=w, height=h))
        for _ in range(int(rng.integers(0, 5))):
            bw, bh = rng.uniform(4, w / 2), rng.uniform(4, h / 2)
            x, y = rng.uniform(0, w - bw), rng.uniform(0, h - bh)
            cat = int(rng.choice(gt_cats))
            anns.append(dict(id=len(anns) + 1, image_id=img_id, category_id=cat,
                             bbox=[x, y, bw, bh], area=bw * bh, iscrowd=0))
            if rng.random() < 0.8:  # a detection near the gt box
                j = rng.normal(0, 0.15, size=4) * [bw, bh, bw, bh]
                label = cat if rng.random() < 0.85 else int(rng.choice(all_cats))
                results.append(dict(image_id=img_id, category_id=label,
                                    bbox=[x + j[0], y + j[1], max(1.0, bw + j[2]),
                                          max(1.0, bh + j[3])],
                                    score=float(rng.uniform(0.05, 1.0))))
        for _ in range(int(rng.integers(0, 4))):  # false positives, any class
            bw, bh = rng.uniform(4, w / 2), rng.uniform(4, h / 2)
            results.append(dict(image_id=img_id, category_id=int(rng.choice(all_cats)),
                                bbox=[rng.uniform(0, w - bw), rng.uniform(0, h - bh), bw, bh],
                                score=float(rng.uniform(0.0, 0.9))))
    gt = dict(images=images, annotations=anns, categories=copy.deepcopy(CATEGORIES))
    assert any(r['category_id'] in NO_GT_CATS for r in results)
    return gt, results


def cocoeval_direct(gt: dict, results: list, iou_thrs=None) -> COCOeval:
    """pycocotools, nothing of ours."""
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = copy.deepcopy(gt)
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(copy.deepcopy(results))
        ev = COCOeval(coco_gt, coco_dt, 'bbox')
        if iou_thrs is not None:
            ev.params.iouThrs = np.array(iou_thrs)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev


def per_class_direct(ev: COCOeval) -> dict:
    """AP per category id from COCOeval's precision (all areas, 100 dets)."""
    out = {}
    for k, cat_id in enumerate(ev.params.catIds):
        p = ev.eval['precision'][:, :, k, 0, -1]
        out[cat_id] = float(p[p > -1].mean()) if (p > -1).any() else None
    return out


def check_against_cocoeval(scores: dict, gt: dict, results: list, prefix: str = '') -> None:
    ev40 = cocoeval_direct(gt, results, iou_thrs=[0.4])
    ev = cocoeval_direct(gt, results)
    assert scores[prefix + 'map_40'] == pytest.approx(ev40.stats[0], abs=1e-12)
    assert scores[prefix + 'map_50_95'] == pytest.approx(ev.stats[0], abs=1e-12)
    for i, key in enumerate(('bbox_mAP', 'bbox_mAP_50', 'bbox_mAP_75', 'bbox_mAP_s',
                             'bbox_mAP_m', 'bbox_mAP_l')):
        assert scores[prefix + key] == pytest.approx(ev.stats[i], abs=1e-12), key
    # the two thresholds really differ on these cases, so a swap would show
    assert ev40.stats[0] != pytest.approx(ev.stats[0], abs=1e-6)


@pytest.mark.parametrize('seed', SEEDS)
def test_evaluate_coco_results_equals_cocoeval(seed):
    gt, results = random_case(seed)
    scores = evaluate_coco_results(gt, results)
    check_against_cocoeval(scores, gt, results)
    ap40 = per_class_direct(cocoeval_direct(gt, results, iou_thrs=[0.4]))
    ap = per_class_direct(cocoeval_direct(gt, results))
    for cat in CATEGORIES:
        pc = scores['per_class'][cat['name']]
        assert pc['category_id'] == cat['id']
        if cat['id'] in NO_GT_CATS:
            assert pc['ap_40'] is None and pc['ap_50_95'] is None and pc['num_gt'] == 0
        else:
            assert pc['ap_40'] == pytest.approx(ap40[cat['id']], abs=1e-12)
            assert pc['ap_50_95'] == pytest.approx(ap[cat['id']], abs=1e-12)
            assert pc['num_gt'] == sum(a['category_id'] == cat['id'] for a in gt['annotations'])
    # map_40 is the mean over classes that have gt
    valid = [pc['ap_40'] for pc in scores['per_class'].values() if pc['ap_40'] is not None]
    assert scores['map_40'] == pytest.approx(np.mean(valid), abs=1e-12)


def test_evaluate_coco_results_reads_files(tmp_path):
    gt, results = random_case(5)
    gt_path, pred_path = str(tmp_path / 'gt.json'), str(tmp_path / 'pred.json')
    json.dump(gt, open(gt_path, 'w'))
    json.dump(results, open(pred_path, 'w'))
    check_against_cocoeval(evaluate_coco_results(gt_path, pred_path), gt, results)


def test_no_predictions_scores_zero():
    gt, _ = random_case(0)
    scores = evaluate_coco_results(gt, [])
    assert scores['map_40'] == 0.0 and scores['map_50_95'] == 0.0


def test_bad_records_are_named():
    gt, results = random_case(0)
    bad = copy.deepcopy(results)
    bad[3]['image_id'] = 999
    with pytest.raises(ValueError, match='record 3: image_id 999'):
        evaluate_coco_results(gt, bad)
    bad = copy.deepcopy(results)
    bad[2]['bbox'][2] = -5
    with pytest.raises(ValueError, match='record 2 .*negative width'):
        evaluate_coco_results(gt, bad)
    bad = copy.deepcopy(results)
    bad[1]['category_id'] = 42
    with pytest.raises(ValueError, match='record 1 .*category_id 42'):
        evaluate_coco_results(gt, bad)


def data_samples(gt: dict, results: list, with_instances: bool = False) -> list:
    """mmdet-style data samples: predictions as label indices, xyxy tensors."""
    label_of = {c['id']: i for i, c in enumerate(gt['categories'])}
    samples = []
    for img in gt['images']:
        mine = [r for r in results if r['image_id'] == img['id']]
        xyxy = [[x, y, x + w, y + h] for x, y, w, h in (r['bbox'] for r in mine)]
        sample = dict(
            img_id=img['id'], ori_shape=(img['height'], img['width']),
            pred_instances=dict(
                bboxes=torch.tensor(xyxy, dtype=torch.float64).reshape(-1, 4),
                scores=torch.tensor([r['score'] for r in mine], dtype=torch.float64),
                labels=torch.tensor([label_of[r['category_id']] for r in mine],
                                    dtype=torch.long)))
        if with_instances:
            sample['instances'] = [
                dict(bbox=[a['bbox'][0], a['bbox'][1], a['bbox'][0] + a['bbox'][2],
                           a['bbox'][1] + a['bbox'][3]],
                     bbox_label=label_of[a['category_id']], ignore_flag=0)
                for a in gt['annotations'] if a['image_id'] == img['id']]
        samples.append(sample)
    return samples


@pytest.mark.parametrize('seed', SEEDS)
def test_metric_equals_cocoeval(tmp_path, seed):
    gt, results = random_case(seed)
    ann_file = str(tmp_path / 'gt.json')
    json.dump(gt, open(ann_file, 'w'))
    metric = METRICS.build(dict(type='MultiReaderDetMetric', ann_file=ann_file,
                                outfile_prefix=str(tmp_path / 'run')))
    metric.dataset_meta = dict(classes=[c['name'] for c in CATEGORIES])
    samples = data_samples(gt, results)
    for i in range(0, len(samples), 4):  # batches of 4
        metric.process({}, samples[i:i + 4])
    out = metric.evaluate(len(samples))
    assert all(isinstance(v, float) for v in out.values())
    # float32 round trip of the boxes in results2json: compare with the json it wrote
    written = json.load(open(tmp_path / 'run.bbox.json'))
    assert len(written) == len(results)
    check_against_cocoeval(out, gt, written, prefix='coco/')
    ap40 = per_class_direct(cocoeval_direct(gt, written, iou_thrs=[0.4]))
    per_class = json.load(open(tmp_path / 'run.per_class.json'))
    assert per_class == metric.last_per_class
    for cat in CATEGORIES:
        assert per_class[cat['name']]['ap_40'] == (
            None if ap40[cat['id']] is None else pytest.approx(ap40[cat['id']], abs=1e-12))


def test_metric_gt_from_dataset_instances():
    """Without ann_file the gt comes from the samples' instances (CocoMetric's path)."""
    gt, results = random_case(7)
    metric = METRICS.build(dict(type='MultiReaderDetMetric'))
    metric.dataset_meta = dict(classes=[c['name'] for c in CATEGORIES])
    metric.process({}, data_samples(gt, results, with_instances=True))
    out = metric.evaluate(len(gt['images']))
    # same gt, category ids become label indices
    label_of = {c['id']: i for i, c in enumerate(gt['categories'])}
    gt_l = copy.deepcopy(gt)
    gt_l['categories'] = [dict(id=i, name=c['name']) for i, c in enumerate(gt['categories'])]
    for a in gt_l['annotations']:
        a['category_id'] = label_of[a['category_id']]
    res_l = [dict(r, category_id=label_of[r['category_id']]) for r in results]
    ev40 = cocoeval_direct(gt_l, res_l, iou_thrs=[0.4])
    ev = cocoeval_direct(gt_l, res_l)
    assert out['coco/map_40'] == pytest.approx(ev40.stats[0], abs=1e-5)
    assert out['coco/map_50_95'] == pytest.approx(ev.stats[0], abs=1e-5)


def test_metric_rejects_unsupported_options():
    with pytest.raises(KeyError):
        METRICS.build(dict(type='MultiReaderDetMetric', metric='segm'))
    with pytest.raises(ValueError, match='needs ann_file'):
        METRICS.build(dict(type='MultiReaderDetMetric', gt_readers_fusion=dict(type='WBF')))


def test_metric_in_mmengine_evaluator(tmp_path):
    """As in a Runner's loop: DetDataSample objects through mmengine's Evaluator."""
    from mmdet.structures import DetDataSample
    from mmengine.evaluator import Evaluator
    from mmengine.structures import InstanceData
    gt, results = random_case(3)
    ann_file = str(tmp_path / 'gt.json')
    json.dump(gt, open(ann_file, 'w'))
    evaluator = Evaluator(METRICS.build(dict(type='MultiReaderDetMetric', ann_file=ann_file)))
    evaluator.dataset_meta = dict(classes=[c['name'] for c in CATEGORIES])
    batch = []
    for s in data_samples(gt, results):
        sample = DetDataSample(metainfo=dict(img_id=s['img_id'], ori_shape=s['ori_shape']))
        sample.pred_instances = InstanceData(**s['pred_instances'])
        batch.append(sample)
    evaluator.process(batch)
    out = evaluator.evaluate(len(batch))
    check_against_cocoeval(out, gt, results, prefix='coco/')


def test_metric_fuses_a_multi_reader_gt(tmp_path):
    """gt_readers_fusion: three readers' jittered boxes become one fused gt box,
    so a prediction of that box has AP 1; scored as given, each reader's box is
    a gt box and one prediction per object recalls only a third of them."""
    images, anns, preds = [], [], []
    rng = np.random.default_rng(0)
    for img_id in (1, 2, 3):
        images.append(dict(id=img_id, file_name=f'{img_id}.png', width=128, height=96,
                           readers=['R1', 'R2', 'R3']))
        x, y = rng.uniform(10, 40, size=2)
        for reader in ('R1', 'R2', 'R3'):
            j = rng.uniform(-1, 1, size=2)
            anns.append(dict(id=len(anns) + 1, image_id=img_id, category_id=0,
                             bbox=[x + j[0], y + j[1], 40, 30], area=1200, iscrowd=0,
                             reader=reader))
        preds.append(dict(image_id=img_id, category_id=0, bbox=[x, y, 40, 30], score=0.9))
    gt = dict(images=images, annotations=anns, categories=[dict(id=0, name='nodule')])
    ann_file = str(tmp_path / 'val_multi_reader.json')
    json.dump(gt, open(ann_file, 'w'))

    def score(**kw):
        metric = METRICS.build(dict(type='MultiReaderDetMetric', ann_file=ann_file, **kw))
        metric.dataset_meta = dict(classes=['nodule'])
        metric.process({}, data_samples(gt, preds))
        return metric.evaluate(3)['coco/map_40']

    assert score(gt_readers_fusion=dict(type='WBF', iou_thr=0.4)) == pytest.approx(1.0)
    raw = score()
    ev = cocoeval_direct(gt, preds, iou_thrs=[0.4])
    assert raw == pytest.approx(ev.stats[0]) and raw < 0.4
