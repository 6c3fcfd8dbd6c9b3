"""The VinBigData "No finding" convention on a hand-made case with known AP.

Four images, one class 'nodule' (id 0) and "No finding" (id 14):
  img 1: one gt nodule; img 2, 3, 4: no gt box (-> one "No finding" gt each).
Detections of nodule: img 1 TP at 0.9, img 2 FP at 0.95, img 4 FP at 0.3.

nodule AP (any IoU threshold): ranked 0.95 FP, 0.9 TP -> precision 1/2 at
recall 1, so every one of the 101 recall points has precision 0.5: AP = 0.5.

No finding, score_mode 'complement' (score = 1 - top detection score):
  img 3 (nothing) 1.0 TP, img 4 0.7 TP, img 1 0.1 FP, img 2 0.05 TP.
  Recall 1/3, 2/3 at precision 1, then 3/4 at recall 1. Interpolated
  precision is 1 for recall <= 2/3 (points 0.00..0.66: 67 points) and 0.75
  above (0.67..1.00: 34 points): AP = (67 + 34 * 0.75) / 101.

No finding, score_mode 'constant', score_thr 0.5: images with no detection
  >= 0.5 are img 3 and img 4 -> two TPs at score 1, img 2 never found:
  recall 2/3 at precision 1: AP = 67 / 101.
"""
import copy

import pytest

from mmmulti.evaluation import (add_no_finding_gt, evaluate_coco_results, load_coco_gt,
                                no_finding_predictions, parse_no_finding)

GT = dict(
    images=[dict(id=i, file_name=f'{i}.png', width=100, height=80) for i in (1, 2, 3, 4)],
    annotations=[dict(id=1, image_id=1, category_id=0, bbox=[10, 10, 20, 20], area=400,
                      iscrowd=0)],
    categories=[dict(id=0, name='nodule')])
PRED = [dict(image_id=1, category_id=0, bbox=[11, 10, 20, 20], score=0.9),
        dict(image_id=2, category_id=0, bbox=[50, 50, 10, 10], score=0.95),
        dict(image_id=4, category_id=0, bbox=[40, 40, 10, 10], score=0.3)]

AP_NODULE = 0.5
AP_NF_COMPLEMENT = (67 + 34 * 0.75) / 101
AP_NF_CONSTANT = 67 / 101


def test_without_convention_only_nodule_counts():
    scores = evaluate_coco_results(GT, PRED)
    assert scores['map_40'] == pytest.approx(AP_NODULE)
    assert list(scores['per_class']) == ['nodule']


def test_complement_scores():
    scores = evaluate_coco_results(GT, PRED, no_finding=dict(enable=True, class_id=14))
    pc = scores['per_class']
    assert pc['nodule']['ap_40'] == pytest.approx(AP_NODULE)
    assert pc['No finding']['ap_40'] == pytest.approx(AP_NF_COMPLEMENT)
    assert pc['No finding']['ap_50_95'] == pytest.approx(AP_NF_COMPLEMENT)  # IoU is 1
    assert pc['No finding']['num_gt'] == 3 and pc['No finding']['num_pred'] == 4
    assert scores['map_40'] == pytest.approx((AP_NODULE + AP_NF_COMPLEMENT) / 2)


def test_constant_scores_with_threshold():
    nf = dict(enable=True, class_id=14, score_mode='constant', score_thr=0.5)
    scores = evaluate_coco_results(GT, PRED, no_finding=nf)
    assert scores['per_class']['No finding']['ap_40'] == pytest.approx(AP_NF_CONSTANT)
    assert scores['per_class']['No finding']['num_pred'] == 2


def test_predictions_and_gt_boxes():
    nf = parse_no_finding(dict(enable=True, class_id=14))
    extra = no_finding_predictions(PRED, nf, cat_ids=[0], img_ids=[1, 2, 3, 4])
    assert {p['image_id']: p['score'] for p in extra} == pytest.approx(
        {1: 1 - 0.9, 2: 1 - 0.95, 3: 1.0, 4: 1 - 0.3})
    assert all(p['bbox'] == [0, 0, 1, 1] and p['category_id'] == 14 for p in extra)
    coco = load_coco_gt(GT)
    before = copy.deepcopy(coco.dataset)
    with_nf = add_no_finding_gt(coco, nf, cat_ids=[0], img_ids=[1, 2, 3, 4])
    assert coco.dataset == before  # input untouched
    nf_anns = [a for a in with_nf.dataset['annotations'] if a['category_id'] == 14]
    assert sorted(a['image_id'] for a in nf_anns) == [2, 3, 4]
    assert all(a['bbox'] == [0, 0, 1, 1] for a in nf_anns)
    assert with_nf.cats[14]['name'] == 'No finding'


def test_disabled_and_errors():
    assert parse_no_finding(dict(enable=False, class_id=14)) is None
    assert parse_no_finding(None) is None
    with pytest.raises(ValueError, match='unknown keys'):
        parse_no_finding(dict(enable=True, clas_id=14))
    with pytest.raises(ValueError, match='evaluated class'):
        evaluate_coco_results(GT, PRED, cat_ids=[0],
                              no_finding=dict(enable=True, class_id=0))
    gt = copy.deepcopy(GT)
    gt['categories'].append(dict(id=14, name='No finding'))
    pred = PRED + [dict(image_id=3, category_id=14, bbox=[0, 0, 1, 1], score=1.0)]
    with pytest.raises(ValueError, match='already contain category 14'):
        evaluate_coco_results(gt, pred, no_finding=dict(enable=True, class_id=14))
    # a gt json that lists "No finding" itself: not an evaluated class, same AP
    scores = evaluate_coco_results(gt, PRED, no_finding=dict(enable=True, class_id=14))
    assert scores['per_class']['No finding']['ap_40'] == pytest.approx(AP_NF_COMPLEMENT)
