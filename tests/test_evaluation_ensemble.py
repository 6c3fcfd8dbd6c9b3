"""Readers ensemble (WBF of several models' predictions) on hand-made boxes.

Image 1 is 200 x 100 px (not square, so a wrong normalisation axis shows).
Model A: class 3 box xyxy (20, 10, 60, 50) score 0.9.
Model B: class 3 box xyxy (24, 14, 64, 54) score 0.6 (IoU with A 1296/1904 = 0.68)
         and class 5 box (80, 60, 120, 90) score 0.4 (alone).
WBF (conf_type 'avg', weights w): a cluster's box is the average of its boxes
weighted by score*w; its score is sum(score*w)/len(cluster) * min(n_models,
len(cluster)) / sum(w).
"""
import numpy as np
import pytest
from ensemble_boxes import weighted_boxes_fusion

from mmmulti.evaluation import ensemble_predictions


def xywh(x1, y1, x2, y2):
    return [x1, y1, x2 - x1, y2 - y1]


A_BOX, B_BOX, B_OTHER = (20, 10, 60, 50), (24, 14, 64, 54), (80, 60, 120, 90)
MODEL_A = [dict(image_id=1, category_id=3, bbox=xywh(*A_BOX), score=0.9)]
MODEL_B = [dict(image_id=1, category_id=3, bbox=xywh(*B_BOX), score=0.6),
           dict(image_id=1, category_id=5, bbox=xywh(*B_OTHER), score=0.4)]
SIZES = {1: (200.0, 100.0), 2: (50.0, 50.0)}


def expected(wa: float, wb: float):
    """Hand-computed WBF answer: {category: (xyxy, score)}."""
    sa, sb = 0.9 * wa, 0.6 * wb
    box = (sa * np.array(A_BOX) + sb * np.array(B_BOX)) / (sa + sb)
    score = (sa + sb) / 2 * min(2, 2) / (wa + wb)
    other = 0.4 * wb * min(2, 1) / (wa + wb)
    return {3: (box, score), 5: (np.array(B_OTHER, float), other)}


def as_dict(fused):
    out = {}
    for p in fused:
        x, y, w, h = p['bbox']
        out[p['category_id']] = (np.array([x, y, x + w, y + h]), p['score'])
    return out


@pytest.mark.parametrize('weights', [None, (1, 2), (3, 1)])
def test_fused_boxes_and_scores(weights):
    fused = ensemble_predictions([MODEL_A, MODEL_B], SIZES, weights=weights, iou_thr=0.55)
    assert all(p['image_id'] == 1 for p in fused) and len(fused) == 2
    got, want = as_dict(fused), expected(*(weights or (1, 1)))
    for cat in (3, 5):
        np.testing.assert_allclose(got[cat][0], want[cat][0], rtol=1e-5)
        assert got[cat][1] == pytest.approx(want[cat][1], rel=1e-5)


def test_weights_change_the_answer():
    even, skew = expected(1, 1), expected(1, 2)
    assert even[3][1] != pytest.approx(skew[3][1], rel=1e-3)      # 0.75 vs 0.70
    assert not np.allclose(even[3][0], skew[3][0], rtol=1e-3)     # box moves to B
    got_even = as_dict(ensemble_predictions([MODEL_A, MODEL_B], SIZES))
    got_skew = as_dict(ensemble_predictions([MODEL_A, MODEL_B], SIZES, weights=[1, 2]))
    assert got_even[3][1] != pytest.approx(got_skew[3][1], rel=1e-3)


def test_swapping_scores_and_labels_would_change_the_answer():
    """The argument-order guard can fail: a swapped call gives another answer."""
    norm = np.array([200, 100, 200, 100], float)
    boxes = [np.array([A_BOX]) / norm, np.array([B_BOX, B_OTHER]) / norm]
    scores = [np.array([0.9]), np.array([0.6, 0.4])]
    labels = [np.array([3]), np.array([3, 5])]
    _, s_right, l_right = weighted_boxes_fusion(boxes, scores, labels, iou_thr=0.55)
    _, s_swap, l_swap = weighted_boxes_fusion(boxes, labels, scores, iou_thr=0.55)
    want = expected(1, 1)
    assert sorted(s_right) == pytest.approx(sorted([want[3][1], want[5][1]]), rel=1e-5)
    assert sorted(s_swap) != pytest.approx(sorted(s_right), rel=1e-3)
    assert set(l_swap.astype(int)) != {3, 5}


def test_iou_threshold_and_missing_images():
    # above the pair's IoU (0.68) the two class-3 boxes stay apart
    fused = ensemble_predictions([MODEL_A, MODEL_B], SIZES, iou_thr=0.7)
    assert sorted(p['category_id'] for p in fused) == [3, 3, 5]
    single = [p for p in fused if p['category_id'] == 3 and p['score'] == pytest.approx(0.45)]
    assert len(single) == 1  # 0.9 / 2: model B is an absent vote there
    # image 2 has no prediction from anyone: nothing fused there
    assert all(p['image_id'] == 1 for p in fused)


def test_clipping_and_errors():
    outside = [dict(image_id=2, category_id=3, bbox=[40, 40, 20, 20], score=0.8),
               dict(image_id=2, category_id=3, bbox=[60, 60, 5, 5], score=0.8)]
    fused = ensemble_predictions([outside], SIZES)
    assert len(fused) == 1  # the box wholly outside the 50x50 image is dropped
    np.testing.assert_allclose(fused[0]['bbox'], [40, 40, 10, 10], rtol=1e-5)
    with pytest.raises(ValueError, match='2 weights for 1'):
        ensemble_predictions([MODEL_A], SIZES, weights=[1, 2])
    with pytest.raises(ValueError, match='conf_type'):
        ensemble_predictions([MODEL_A], SIZES, conf_type='mean')
    with pytest.raises(ValueError, match='image_id 9'):
        ensemble_predictions([[dict(MODEL_A[0], image_id=9)]], SIZES)
