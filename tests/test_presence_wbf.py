"""PresenceWBF: the posterior that a fused box is a real finding, from each
reader's estimated sensitivity and share of made-up boxes (EM)."""
import numpy as np
import pytest

from mmmulti.fusion import PresenceWBF, SoftWBF, build_fusion
from mmmulti.structures import ImageReads

READERS = ('r1', 'r2', 'r3')


def _readers_data(sensitivity, invented, n=400, seed=0):
    """Images of 1-3 true findings on a 4 x 4 grid of 20-px cells; reader r draws
    each (jittered) with probability sensitivity[r] and adds Poisson(invented[r])
    boxes in empty cells. Returns the data and, per image, the true boxes."""
    rng = np.random.default_rng(seed)
    data, truth = [], []
    for _ in range(n):
        cells = rng.permutation(16)
        real = cells[:rng.integers(1, 4)]
        free = list(cells[len(real):])
        true_boxes = [[25 * (c % 4) + 2, 25 * (c // 4) + 2, 25 * (c % 4) + 20,
                       25 * (c // 4) + 20] for c in real]
        boxes, labels, who = [], [], []
        for r, s, lam in zip(READERS, sensitivity, invented):
            for b in true_boxes:
                if rng.random() < s:
                    boxes.append(np.asarray(b, float) + rng.normal(0, 0.5, 4))
                    labels.append(0)
                    who.append(r)
            for _ in range(min(rng.poisson(lam), len(free))):
                c = free.pop(int(rng.integers(len(free))))
                boxes.append(np.array([25 * (c % 4) + 2, 25 * (c // 4) + 2,
                                       25 * (c % 4) + 20, 25 * (c // 4) + 20], float))
                labels.append(int(rng.integers(3)))
                who.append(r)
        data.append(ImageReads(np.asarray(boxes, float).reshape(-1, 4), np.asarray(labels),
                               np.asarray(who, object), list(READERS), 100.0, 100.0))
        truth.append(np.asarray(true_boxes, float))
    return data, truth


def _real(box, true_boxes):
    return bool(len(true_boxes)) and np.abs(true_boxes - box).max(1).min() < 5


def _precision_recall(fused, truth):
    kept = real = found = total = 0
    for f, t in zip(fused, truth):
        boxes = np.unique(np.round(f.boxes, 3), axis=0)
        kept += len(boxes)
        real += sum(_real(b, t) for b in boxes)
        found += sum(_real(b, boxes) for b in t)
        total += len(t)
    return real / max(kept, 1), found / total


def test_lone_boxes_of_readers_who_invent_are_dropped_and_rates_are_learnt():
    data, truth = _readers_data(sensitivity=(0.9, 0.9, 0.9), invented=(0.6, 0.6, 0.6))
    method = PresenceWBF(progress=False)
    fused = method.fuse_dataset(data)
    soft = SoftWBF(progress=False).fuse_dataset(data)
    p_soft, r_soft = _precision_recall(soft, truth)
    p, r = _precision_recall(fused, truth)
    assert p_soft < 0.7 and r_soft == 1.0
    assert p > 0.98 and r > 0.95, (p, r)   # lone true boxes (2.7 %) go with the spurious
    np.testing.assert_allclose(method.sensitivity, 0.9, atol=0.04)
    np.testing.assert_allclose(method.invention, 1 / 3, atol=0.05)
    assert method.coincidence < 0.05 and 0 < method.dropped < method.clusters
    report = method.report()
    assert f'{method.dropped} of {method.clusters} clusters' in report and 'r2' in report


def test_lone_boxes_of_an_expert_who_invents_nothing_are_kept():
    # r1 misses little and invents nothing; r2, r3 miss half and invent often:
    # r1's lone boxes are real, r2's and r3's lone boxes spurious
    data, truth = _readers_data(sensitivity=(0.98, 0.5, 0.5), invented=(0.0, 0.5, 0.5))
    method = PresenceWBF(progress=False)
    fused = method.fuse_dataset(data)
    p, r = _precision_recall(fused, truth)
    assert p > 0.97 and r > 0.97, (p, r)
    assert method.invention[0] < 0.2 < min(method.invention[1:]) and method.sensitivity[0] > 0.95
    assert method.sensitivity[1] == pytest.approx(0.5, abs=0.1)  # overestimated: see the module
    est = method.reader_estimates
    assert est['r1']['precision'] > est['r2']['precision']


def test_confidence_is_the_posterior_and_single_images_fuse_alike():
    data, _ = _readers_data(sensitivity=(0.9, 0.8, 0.7), invented=(0.3, 0.6, 0.9), n=200)
    keep_all = PresenceWBF(min_confidence=0.0, progress=False)
    every = keep_all.fuse_dataset(data)
    soft = SoftWBF(progress=False).fuse_dataset(data)
    # nothing dropped: SoftWBF's boxes, labels and shares, the posterior as c
    for a, b in zip(every, soft):
        np.testing.assert_allclose(a.boxes, b.boxes)
        assert a.labels.tolist() == b.labels.tolist()
        assert np.all((a.confidences > 0) & (a.confidences <= 1))
    assert keep_all.dropped == 0
    # three readers on a cluster: a posterior near 1; one reader: far lower
    full = np.concatenate([f.confidences[f.agreement == 3] for f in every])
    lone = np.concatenate([f.confidences[f.agreement == 1] for f in every])
    assert full.min() > 0.99 and np.median(lone) < 0.2
    # the fitted rates fuse one image as in the data set
    default = PresenceWBF(progress=False)
    fused = default.fuse_dataset(data)
    for k in (0, 5, 17):
        one = default.fuse(data[k])
        np.testing.assert_allclose(one.boxes, fused[k].boxes)
        np.testing.assert_allclose(one.confidences, fused[k].confidences, rtol=1e-6)
    assert np.all(np.concatenate([f.confidences for f in fused]) >= 0.5 * 0.05)


def test_readers_without_spurious_boxes_keep_every_cluster():
    data, _ = _readers_data(sensitivity=(0.95, 0.95, 0.95), invented=(0.0, 0.0, 0.0), n=200)
    method = PresenceWBF(progress=False)
    fused = method.fuse_dataset(data)
    soft = SoftWBF(progress=False).fuse_dataset(data)
    assert method.dropped == 0
    assert sum(map(len, fused)) == sum(map(len, soft))


def test_unfitted_and_built_by_name():
    data, _ = _readers_data(sensitivity=(0.9, 0.9, 0.9), invented=(0.5, 0.5, 0.5), n=5)
    method = build_fusion('presence_wbf', min_confidence=0.3)
    assert isinstance(method, PresenceWBF) and method.min_confidence == 0.3
    assert 'not fitted' in method.report()
    # before fuse_dataset: SoftWBF's output (c as confidence, nothing dropped)
    a, b = method.fuse(data[0]), SoftWBF(progress=False).fuse(data[0])
    np.testing.assert_allclose(a.confidences, b.confidences)
    with pytest.raises(ValueError, match='min_confidence'):
        PresenceWBF(min_confidence=1.0)
    empty = ImageReads(np.zeros((0, 4)), np.zeros(0, np.int64), np.zeros(0, object),
                       list(READERS), 100.0, 100.0)
    out = PresenceWBF(progress=False).fuse_dataset([empty, data[1]])
    assert len(out[0]) == 0 and len(out) == 2


def _biased_noisy_data(n=300, seed=0):
    """One or two true findings per image (class 0..2). r1 draws tightly
    (noise 0.5 px); r2 and r3 loosely (3 px); r3 draws every box 1.3x larger and
    shifted by (0.15, 0.1) of its size, and names class 0 as 1 always."""
    from mmmulti.fusion.reader_bias import correct_reads  # noqa: F401
    rng = np.random.default_rng(seed)
    data, truth = [], []
    for _ in range(n):
        k = int(rng.integers(1, 3))
        true_boxes = [[10 + 45 * i, 20, 40 + 45 * i, 50] for i in range(k)]
        true_labels = [int(rng.integers(3)) for _ in range(k)]
        boxes, labels, who = [], [], []
        for r, noise in (('r1', 0.5), ('r2', 3.0), ('r3', 3.0)):
            for b, lab in zip(true_boxes, true_labels):
                b = np.asarray(b, float)
                if r == 'r3':
                    cx, cy = (b[0] + b[2]) / 2 + 0.15 * 30, (b[1] + b[3]) / 2 + 0.1 * 30
                    b = np.array([cx - 19.5, cy - 19.5, cx + 19.5, cy + 19.5])
                    lab = 1 if lab == 0 else lab
                boxes.append(b + rng.normal(0, noise, 4))
                labels.append(lab)
                who.append(r)
        data.append(ImageReads(np.asarray(boxes), np.asarray(labels), np.asarray(who, object),
                               list(READERS), 100.0, 100.0))
        truth.append(ImageReads(np.asarray(true_boxes, float), np.asarray(true_labels),
                                np.array(['t'] * k, object), ['t'], 100.0, 100.0))
    return data, truth


def test_reader_model_undoes_bias_weights_tight_readers_and_learns_confusions():
    from mmmulti.analysis.fusion_vs_truth import target_quality
    data, truth = _biased_noisy_data()
    plain = PresenceWBF(progress=False)
    full = PresenceWBF(correct_bias=True, precision_weights=True, class_target='dawid_skene',
                       progress=False)
    q_plain = target_quality('plain', plain.fuse_dataset(data), truth)
    fused = full.fuse_dataset(data)
    q_full = target_quality('full', fused, truth)
    # r3's bias, relative to the typical reader (r1, r2 unbiased)
    b3 = full.reader_bias['r3']
    np.testing.assert_allclose(b3[:2], [0.15, 0.1], atol=0.03)
    np.testing.assert_allclose(np.exp(b3[2:]), 1.3, atol=0.05)
    assert np.abs(full.reader_bias['r1']).max() < 0.03
    # the tight reader dominates the coordinates
    w = full.reader_weights
    assert w['r1'] == 1.0 and max(w['r2'], w['r3']) < 0.2
    assert q_full.mean_iou > q_plain.mean_iou + 0.05 and q_full.mean_iou > 0.9
    # two readers right, one always naming 0 as 1: the vote shares keep r3's 1
    # at 1/3; the confusion matrices see through it
    assert q_full.class_accuracy >= q_plain.class_accuracy and q_full.class_accuracy > 0.99
    assert 'bias dx' in full.report()
    # the fitted model fuses one image as in the data set
    for k in (0, 7):
        one = full.fuse(data[k])
        np.testing.assert_allclose(one.boxes, fused[k].boxes, rtol=1e-5)
        np.testing.assert_allclose(one.confidences, fused[k].confidences, rtol=1e-5)
    with pytest.raises(ValueError, match='class_target'):
        PresenceWBF(class_target='majority')


def test_em_record_warns_at_max_iter_and_drops_are_counted_per_agreement():
    from mmmulti.fusion.base import EMNotConvergedWarning
    from mmmulti.fusion.summary import fusion_summary
    data, _ = _readers_data(sensitivity=(0.9, 0.8, 0.7), invented=(0.3, 0.6, 0.9), n=150)
    method = PresenceWBF(progress=False)
    assert method.em is None and 'em' not in method.config()
    fused = method.fuse_dataset(data)
    assert method.em['converged'] is True and 1 <= method.em['iterations'] < 100
    assert 'converged' in method.report() and 'NOT converged' not in method.report()
    # the drops per (agreement, readers of the image) sum to the total
    by = method.dropped_by_agreement
    assert method.dropped > 0 and sum(by.values()) == method.dropped
    assert all(1 <= a <= r == 3 for a, r in by) and 'dropped_by_agreement' not in method.config()
    text = fusion_summary(data, fused, method, 0.1)
    assert f'clusters    : {method.clusters}, {method.dropped} dropped' in text
    line = next(x for x in text.splitlines() if x.startswith('dropped clusters by agreement: '))
    counts = [int(part.split(': ')[1]) for part in line.split(': ', 1)[1].split(', ')]
    assert sum(counts) == method.dropped and '1/3: ' in line
    assert 'em          : ' in text and ', converged' in text

    # r3 names class 0 as 1: the class EM has something to fit
    biased, _ = _biased_noisy_data(n=100)
    stopped = PresenceWBF(max_iter=1, class_target='dawid_skene', class_max_iter=1,
                          progress=False)
    with pytest.warns(EMNotConvergedWarning, match='max_iter=1') as caught:
        stopped.fuse_dataset(biased)
    names = ' '.join(str(w.message) for w in caught)
    assert 'PresenceWBF presence EM' in names and 'PresenceWBF class EM' in names
    assert '--class-max-iter' in names
    assert stopped.em['converged'] is False and stopped.em['iterations'] == 1
    assert stopped.em['em_class']['converged'] is False
    report = stopped.report()
    assert report.count('NOT converged: stopped at max_iter=1') == 2
    assert 'WARNING: presence EM reached max_iter=1' in report
    assert 'WARNING: class EM (Dawid-Skene) reached max_iter=1' in report
