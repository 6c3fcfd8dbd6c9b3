"""The bootstrap's re-accumulation equals pycocotools on the identity sample,
and its paired intervals behave (zero for identical arms, exclude 0 for a
clearly better arm)."""
import numpy as np
import pytest

from mmmulti.evaluation import evaluate_coco_results
from mmmulti.evaluation.bootstrap import image_matches, map_of_sample, paired_bootstrap
from test_evaluation_metric import SEEDS, random_case


@pytest.mark.parametrize('seed', SEEDS)
def test_identity_sample_equals_cocoeval(seed):
    gt, results = random_case(seed)
    ref = evaluate_coco_results(gt, results, classwise=False)
    got = map_of_sample(image_matches(gt, results))
    assert got['map_40'] == pytest.approx(ref['map_40'], abs=1e-12)
    assert got['map_50_95'] == pytest.approx(ref['map_50_95'], abs=1e-12)


def test_duplicated_images_equal_a_gt_with_copies():
    """Drawing image i twice scores like a data set holding two copies of it."""
    import copy
    gt, results = random_case(1, n_images=6)
    counts = np.array([2, 1, 0, 1, 3, 1])
    dup_gt = dict(categories=gt['categories'], images=[], annotations=[])
    dup_res = []
    for img in gt['images']:
        for c in range(counts[img['id'] - 1]):
            new_id = len(dup_gt['images']) + 1
            dup_gt['images'].append(dict(img, id=new_id))
            for a in gt['annotations']:
                if a['image_id'] == img['id']:
                    dup_gt['annotations'].append(dict(copy.deepcopy(a), image_id=new_id,
                                                      id=len(dup_gt['annotations']) + 1))
            dup_res += [dict(r, image_id=new_id) for r in results if r['image_id'] == img['id']]
    ref = evaluate_coco_results(dup_gt, dup_res, classwise=False)
    got = map_of_sample(image_matches(gt, results), counts)
    # equal up to the order of tied scores between copies (none tie here)
    assert got['map_40'] == pytest.approx(ref['map_40'], abs=1e-9)
    assert got['map_50_95'] == pytest.approx(ref['map_50_95'], abs=1e-9)


def test_paired_bootstrap_intervals():
    gt, results = random_case(2, n_images=40)
    m = image_matches(gt, results)
    same = paired_bootstrap(m, m, num_samples=50)
    assert all(v['diff'] == v['low'] == v['high'] == 0 for v in same.values())
    # a better arm: every gt box found exactly with a top score
    perfect = [dict(image_id=a['image_id'], category_id=a['category_id'], bbox=a['bbox'],
                    score=1.0) for a in gt['annotations']]
    better = paired_bootstrap(image_matches(gt, perfect + results), m, num_samples=200)
    for v in better.values():
        assert v['low'] > 0 and v['low'] <= v['diff'] <= v['high']


def _precision_by_copies(cm, counts):
    """The definition: repeat each image's detections, sort, accumulate."""
    from mmmulti.evaluation.bootstrap import RECALL_POINTS
    npig = int(np.dot(counts, cm.num_gt))
    if npig == 0:
        return None
    reps = counts[cm.image]
    order = np.argsort(-np.repeat(cm.scores, reps), kind='mergesort')
    matched = np.repeat(cm.matched, reps, axis=1)[:, order]
    ignored = np.repeat(cm.ignored, reps, axis=1)[:, order]
    tp = np.cumsum(matched & ~ignored, axis=1, dtype=float)
    fp = np.cumsum(~matched & ~ignored, axis=1, dtype=float)
    out = np.zeros((tp.shape[0], len(RECALL_POINTS)))
    if tp.shape[1] == 0:
        return out
    recall, precision = tp / npig, tp / (fp + tp + np.spacing(1))
    precision = np.flip(np.maximum.accumulate(np.flip(precision, 1), axis=1), 1)
    for t in range(tp.shape[0]):
        idx = np.searchsorted(recall[t], RECALL_POINTS, side='left')
        ok = idx < tp.shape[1]
        out[t, ok] = precision[t, idx[ok]]
    return out


@pytest.mark.parametrize('seed', SEEDS)
def test_weighted_accumulation_equals_repeated_copies(seed):
    from mmmulti.evaluation.bootstrap import _class_precision
    gt, results = random_case(seed, n_images=30)
    # tied scores too: round them to one decimal
    results = [dict(r, score=round(r['score'], 1)) for r in results]
    m = image_matches(gt, results)
    rng = np.random.default_rng(seed)
    for _ in range(20):
        counts = np.bincount(rng.integers(0, 30, 30), minlength=30)
        for cm in m.classes:
            a, b = _class_precision(cm, counts), _precision_by_copies(cm, counts)
            assert (a is None) == (b is None)
            if a is not None:
                np.testing.assert_allclose(a, b, atol=1e-12)


def test_paired_bootstraps_equal_one_call_per_arm():
    """Shared resamples, the reference computed once, sets spread over processes:
    every arm's interval is the one its own paired_bootstrap call gives, bit for bit."""
    from mmmulti.evaluation.bootstrap import paired_bootstraps
    gt, results = random_case(3, n_images=30)
    perfect = [dict(image_id=a['image_id'], category_id=a['category_id'], bbox=a['bbox'],
                    score=1.0) for a in gt['annotations']]
    sets = {'ref': image_matches(gt, results), 'better': image_matches(gt, perfect + results),
            'half': image_matches(gt, results[::2])}
    for workers in (1, 2):
        got = paired_bootstraps(sets, 'ref', num_samples=60, seed=4, workers=workers)
        assert set(got) == {'better', 'half'}
        for arm in got:
            assert got[arm] == paired_bootstrap(sets[arm], sets['ref'], num_samples=60, seed=4)
    with pytest.raises(KeyError, match='reference'):
        paired_bootstraps(sets, 'missing')
