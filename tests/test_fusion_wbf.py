"""WBF truth inference: argument order, agreement confidence, equality with the
ensemble_boxes oracle, cluster members."""
import warnings

import numpy as np
import pytest
from ensemble_boxes import weighted_boxes_fusion

from mmmulti.fusion import WBF, FusedBoxes, ImageReads
from mmmulti.io import load_multi_reader_coco
from mmmulti.registry import FUSION_METHODS


def reads(boxes, labels, readers, image_readers, w=100.0, h=100.0, scores=None):
    return ImageReads(np.asarray(boxes, float), labels, readers, image_readers, w, h, scores)


def library_wbf(r: ImageReads, **kw):
    """ensemble_boxes called in its documented order, one list per reader."""
    wh = np.array([r.width, r.height, r.width, r.height])
    m = [r.readers == x for x in r.image_readers]
    s = r.box_scores()
    b, sc, lab = weighted_boxes_fusion([r.boxes[k] / wh for k in m], [s[k] for k in m],
                                       [r.labels[k] for k in m], **kw)
    return b * wh, sc, lab


def test_registered_and_built_from_config():
    m = FUSION_METHODS.build(dict(type='WBF', iou_thr=0.5, conf_type='max'))
    assert isinstance(m, WBF) and m.iou_thr == 0.5 and m.conf_type == 'max'
    assert WBF().iou_thr == 0.4      # the paper's threshold is the default
    with pytest.raises(ValueError, match='conf_type'):
        WBF(conf_type='mean')


def test_argument_order_labels_and_scores_not_swapped():
    """Two readers draw the same region as different classes.

    Right (boxes, scores, labels): two fused boxes of classes 0 and 2, each
    with agreement 1/2. Swapped (boxes, labels, scores): class ids become
    scores and every label 1, so both boxes merge into one.
    """
    r = reads([[10, 10, 50, 50], [12, 10, 52, 50]], [0, 2], ['A', 'B'], ['A', 'B'])
    wh = np.array([100, 100, 100, 100])
    bl = [r.boxes[:1] / wh, r.boxes[1:] / wh]
    sl = [np.ones(1), np.ones(1)]
    ll = [r.labels[:1], r.labels[1:]]
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        sw_b, sw_s, sw_l = weighted_boxes_fusion(bl, ll, sl, iou_thr=0.4)
    right_b, right_s, right_l = weighted_boxes_fusion(bl, sl, ll, iou_thr=0.4)
    assert len(sw_b) == 1 and len(right_b) == 2          # the case discriminates

    out = WBF(iou_thr=0.4).fuse(r)
    assert sorted(out.labels.tolist()) == [0, 2]
    np.testing.assert_allclose(out.confidences, [0.5, 0.5])
    np.testing.assert_array_equal(out.agreement, [1, 1])
    np.testing.assert_allclose(np.sort(out.boxes, 0), np.sort(r.boxes, 0), atol=1e-4)
    np.testing.assert_allclose(out.boxes, right_b * wh, atol=1e-4)


@pytest.mark.parametrize('drawn, expected_c, expected_n', [
    (['A'], 1 / 3, 1), (['A', 'B'], 2 / 3, 2), (['A', 'B', 'C'], 1.0, 3)])
def test_confidence_counts_absent_readers(drawn, expected_c, expected_n):
    """An image read by 3 readers: c = (readers who drew the finding) / 3."""
    base = [[10, 10, 40, 40], [11, 10, 41, 41], [10, 12, 39, 40]]
    r = reads(base[:len(drawn)], [0] * len(drawn), drawn, ['A', 'B', 'C'])
    out = WBF().fuse(r)
    assert len(out) == 1
    assert out.confidences[0] == pytest.approx(expected_c)
    assert out.agreement[0] == expected_n
    np.testing.assert_allclose(out.boxes[0], np.mean(base[:len(drawn)], 0), atol=1e-4)


def test_single_reader_image_and_empty_images():
    out = WBF().fuse(reads([[1, 1, 5, 5]], [3], ['A'], ['A']))
    assert out.confidences.tolist() == [1.0] and out.agreement.tolist() == [1]
    assert out.labels.tolist() == [3]
    empty = WBF().fuse(reads(np.zeros((0, 4)), [], [], ['A', 'B']))
    assert isinstance(empty, FusedBoxes) and len(empty) == 0
    nobody = WBF().fuse(reads(np.zeros((0, 4)), [], [], []))
    assert len(nobody) == 0
    with pytest.raises(ValueError, match="reader 'Z'"):
        WBF().fuse(reads([[1, 1, 5, 5]], [0], ['Z'], ['A']))


def test_agreement_is_capped_at_readers():
    """Reader A draws the finding twice: 3 boxes but 2 distinct readers, R = 2 -> c = 1."""
    r = reads([[10, 10, 40, 40], [11, 11, 41, 41], [10, 11, 40, 41]], [0, 0, 0],
              ['A', 'A', 'B'], ['A', 'B'])
    out = WBF().fuse(r)
    assert len(out) == 1 and out.agreement[0] == 2 and out.confidences[0] == 1.0


def test_iou_threshold_is_applied():
    """IoU of the two boxes is 64/136 = 0.47: merged at 0.4, not at 0.5."""
    r = reads([[0, 0, 10, 10], [2, 2, 12, 12]], [0, 0], ['A', 'B'], ['A', 'B'])
    merged = WBF(iou_thr=0.4).fuse(r)
    np.testing.assert_allclose(merged.boxes, [[1, 1, 11, 11]], atol=1e-5)
    assert merged.agreement.tolist() == [2]
    apart = WBF(iou_thr=0.5).fuse(r)
    assert len(apart) == 2 and apart.agreement.tolist() == [1, 1]


def test_reader_weights_move_the_box_not_the_agreement():
    r = reads([[0, 0, 10, 10], [2, 2, 12, 12]], [0, 0], ['A', 'B'], ['A', 'B'])
    out = WBF(reader_weights={'A': 3.0, 'B': 1.0}).fuse(r)
    np.testing.assert_allclose(out.boxes, [[0.5, 0.5, 10.5, 10.5]], atol=1e-5)
    assert out.confidences.tolist() == [1.0] and out.agreement.tolist() == [2]
    b, s, _ = library_wbf(r, weights=[3.0, 1.0], iou_thr=0.4)
    np.testing.assert_allclose(out.boxes, b, atol=1e-5)
    wbf_scores = WBF(reader_weights={'A': 3.0, 'B': 1.0}, score_mode='wbf').fuse(r)
    assert wbf_scores.confidences[0] == pytest.approx(s[0])


def random_reads(rng, n_images, max_readers=5, ties=True):
    out = []
    for _ in range(n_images):
        R = int(rng.integers(1, max_readers + 1))
        readers = [f'R{k}' for k in range(R)]
        n = int(rng.integers(0, 14))
        W, H = float(rng.integers(50, 200)), float(rng.integers(50, 200))
        xy = rng.integers(0, 8, (n, 2)) * [W / 10, H / 10]
        wh = rng.integers(1, 4, (n, 2)) * [W / 8, H / 8]
        b = np.concatenate([xy, xy + wh], 1)
        if not ties:
            b = b + rng.random((n, 4))
        b[:, [0, 2]] = np.clip(b[:, [0, 2]], 0, W)
        b[:, [1, 3]] = np.clip(b[:, [1, 3]], 0, H)
        ok = (b[:, 2] > b[:, 0]) & (b[:, 3] > b[:, 1])
        who = np.array([readers[k] for k in rng.integers(0, R, n)], dtype=object)
        out.append(ImageReads(b[ok], rng.integers(0, 3, n)[ok], who[ok], readers, W, H))
    return out


def canonical(boxes, scores, labels):
    """Rows (label, score, box) sorted: WBF's order among equal scores is not
    part of its result (the library rounds scores to float32 first)."""
    rows = np.c_[np.asarray(labels, float), np.asarray(scores, float),
                 np.asarray(boxes, float).reshape(-1, 4)]
    return rows[np.lexsort(np.round(rows, 6).T[::-1])]


@pytest.mark.parametrize('conf_type', ['avg', 'max', 'box_and_model_avg',
                                       'absent_model_aware_avg'])
def test_equals_ensemble_boxes_on_random_data(conf_type):
    """The oracle: same clusters, boxes, scores and labels as ensemble_boxes on
    random images with tied scores and coordinates, reader weights and box
    scores below skip_box_thr."""
    rng = np.random.default_rng(7)
    data = random_reads(rng, 300)
    for k, r in enumerate(data):
        weights = None if k % 2 else [float(x) for x in rng.choice([0.5, 1.0, 2.0], r.num_readers)]
        scores = None if k % 3 else np.round(rng.random(len(r)), 1) + 0.05
        r.scores = scores
        rw = None if weights is None else dict(zip(r.image_readers, weights))
        m = WBF(iou_thr=0.4, skip_box_thr=0.1, conf_type=conf_type, reader_weights=rw,
                score_mode='wbf')
        fused = m.fuse_members(r)
        b, s, lab = library_wbf(r, weights=weights, iou_thr=0.4, skip_box_thr=0.1,
                                conf_type=conf_type)
        wh = np.array([r.width, r.height, r.width, r.height])
        np.testing.assert_allclose(canonical(fused.boxes, fused.scores, fused.labels),
                                   canonical(b / wh, s, lab), rtol=0, atol=1e-6)
        # every kept input box is in exactly one cluster
        kept = [i for m_ in fused.members for i in m_.tolist()]
        assert len(kept) == len(set(kept))
        assert set(kept) == set(np.nonzero(r.box_scores() >= 0.1)[0].tolist())
        # sources: the distinct readers among the members
        for members, n in zip(fused.members, fused.sources):
            assert n == len({r.readers[i] for i in members})


def test_fuse_dataset_equals_sequential_fuse():
    rng = np.random.default_rng(11)
    data = random_reads(rng, 400, ties=False)
    m = WBF(reader_weights={'R0': 2.0, 'R3': 0.5}, progress=False)
    sequential = [m.fuse(r) for r in data]
    batched = m.fuse_dataset(data)
    assert len(sequential) == len(batched) == len(data)
    assert sum(len(f) for f in sequential) > 200
    for s, b in zip(sequential, batched):
        assert s.equals(b)


def test_from_loaded_file_absent_vote():
    """Through the loader: 3 readers listed, only R2 drew -> c = 1/3."""
    d = dict(images=[dict(id=1, file_name='x.png', width=64, height=64,
                          readers=['R1', 'R2', 'R3'])],
             categories=[dict(id=1, name='nodule')],
             annotations=[dict(id=1, image_id=1, category_id=1, bbox=[4, 4, 10, 10],
                               reader='R2')])
    src = load_multi_reader_coco(d)
    out = WBF().fuse_dataset(src.reads)[0]
    assert out.confidences.tolist() == pytest.approx([1 / 3]) and out.agreement.tolist() == [1]
    np.testing.assert_allclose(out.boxes, [[4, 4, 14, 14]], atol=1e-5)


def test_benchmark_data_agrees_with_direct_calls():
    """The benchmark's VinDr-like data (absent votes included), small scale."""
    import importlib.util
    from pathlib import Path
    path = Path(__file__).resolve().parents[1] / 'benchmarks' / 'bench_fusion.py'
    spec = importlib.util.spec_from_file_location('bench_fusion', path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    data = bench.synthetic_reads(300, 3, seed=5)
    assert any(len(r) and len(set(r.readers.tolist())) < 3 for r in data)
    ref = bench.direct_ensemble_boxes(data, 0.4)
    ours = WBF(iou_thr=0.4).fuse_dataset(data)
    for r, (b, s, lab), f in zip(data, ref, ours):
        wh = np.array([r.width, r.height, r.width, r.height])
        theirs = canonical(b * wh, np.zeros(len(s)), lab)
        mine = canonical(f.boxes, np.zeros(len(f)), f.labels)
        np.testing.assert_allclose(mine, theirs, rtol=1e-6, atol=1e-3)  # float32 pixels
        # the same rows with their scores: c == s unless a reader drew a class
        # twice (the library counts boxes, c counts distinct readers)
        theirs = canonical(b * wh, s, lab)
        mine = canonical(f.boxes, f.confidences, f.labels)
        if len(set(zip(r.readers.tolist(), r.labels.tolist()))) == len(r):
            np.testing.assert_allclose(mine[:, 1], theirs[:, 1], atol=1e-6)
        else:
            assert np.all(np.sort(f.confidences) <= np.sort(s) + 1e-6)
