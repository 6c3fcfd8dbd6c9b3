"""The non-WBF aggregators, all boxes with WBF agreement and reader-reliability
WBF, on hand-made cases."""
import numpy as np
import pytest

from mmmulti.fusion import (NMS, NMW, WBF, AllBoxes, AllBoxesAgreement, ImageReads,
                            MajorityVote, ReliabilityWBF, SingleReader, SoftNMS,
                            build_fusion)
from mmmulti.fusion.geometry import box_iou
from mmmulti.registry import FUSION_METHODS


def reads(boxes, labels, readers, image_readers, w=100.0, h=100.0):
    return ImageReads(np.asarray(boxes, float), labels, readers, image_readers, w, h)


# A and B agree on a nodule (class 0); B also marks a mass (class 1) alone;
# C read the image and drew nothing.
CASE = reads([[10, 10, 50, 50], [12, 12, 52, 52], [60, 60, 90, 90]], [0, 0, 1],
             ['A', 'B', 'B'], ['A', 'B', 'C'])


def test_all_types_registered():
    for name in ['WBF', 'AllBoxes', 'SingleReader', 'MajorityVote', 'NMS', 'SoftNMS',
                 'NMW', 'ReliabilityWBF']:
        assert FUSION_METHODS.get(name) is not None, name


def test_build_fusion_names_are_case_insensitive():
    assert isinstance(build_fusion('Majority_Vote', iou_thr=0.3), MajorityVote)
    assert isinstance(build_fusion('soft-nms'), SoftNMS)
    assert isinstance(build_fusion('ReliabilityWBF'), ReliabilityWBF)
    assert build_fusion('single_reader', reader='B', iou_thr=None).reader == 'B'
    with pytest.raises(ValueError, match='unknown fusion method'):
        build_fusion('staple')
    with pytest.raises(ValueError, match="does not take option\\(s\\) \\['iou_thr'\\]"):
        build_fusion('all_boxes', iou_thr=0.4)


def test_all_boxes_keeps_every_box_with_weight_one():
    out = AllBoxes().fuse(CASE)
    np.testing.assert_array_equal(out.boxes, CASE.boxes)
    np.testing.assert_array_equal(out.labels, CASE.labels)
    assert out.confidences.tolist() == [1, 1, 1] and out.agreement.tolist() == [1, 1, 1]


def test_allboxes_agreement_keeps_every_box_with_its_cluster_agreement():
    # R1, R2 draw finding A (one cluster, n=2); R3 draws B alone; R1 draws A twice
    boxes = [[10, 10, 30, 30], [11, 11, 31, 31], [60, 60, 80, 80], [10, 11, 30, 31]]
    reads = ImageReads(boxes, [0, 0, 1, 0], ['R1', 'R2', 'R3', 'R1'], ['R1', 'R2', 'R3'],
                       100, 100)
    out = AllBoxesAgreement().fuse(reads)
    np.testing.assert_array_equal(out.boxes, np.asarray(boxes, np.float32))
    assert out.labels.tolist() == [0, 0, 1, 0]
    assert out.agreement.tolist() == [2, 2, 1, 2]
    np.testing.assert_allclose(out.confidences, [2 / 3, 2 / 3, 1 / 3, 2 / 3], rtol=1e-6)
    # the clusters are WBF's: same agreements as the fused boxes
    assert sorted(WBF().fuse(reads).agreement.tolist()) == [1, 2]
    assert isinstance(build_fusion('all_boxes_agreement', iou_thr=0.5), AllBoxesAgreement)
    assert len(AllBoxesAgreement().fuse(ImageReads(np.zeros((0, 4)), [], [], ['R1'], 9, 9))) == 0


def test_single_reader_keeps_that_readers_boxes():
    out = SingleReader(reader='B').fuse(CASE)
    np.testing.assert_array_equal(out.boxes, CASE.boxes[1:])
    assert out.labels.tolist() == [0, 1] and out.confidences.tolist() == [1, 1]
    assert len(SingleReader(reader='C').fuse(CASE)) == 0


def test_majority_vote_keeps_clusters_of_half_the_readers():
    out = MajorityVote(iou_thr=0.4).fuse(CASE)         # need ceil(3/2) = 2 readers
    assert len(out) == 1
    np.testing.assert_allclose(out.boxes[0], [11, 11, 51, 51])
    assert out.labels.tolist() == [0] and out.agreement.tolist() == [2]
    assert out.confidences[0] == pytest.approx(2 / 3)
    two = reads(CASE.boxes, CASE.labels, CASE.readers, ['A', 'B'])  # need 1 of 2
    out2 = MajorityVote().fuse(two)
    assert sorted(out2.agreement.tolist()) == [1, 2]
    np.testing.assert_allclose(sorted(out2.confidences.tolist()), [0.5, 1.0])


def test_majority_vote_one_box_per_reader_per_cluster():
    """A draws the nodule twice: its second box cannot join A's own cluster."""
    r = reads([[10, 10, 50, 50], [11, 11, 51, 51], [12, 12, 52, 52]], [0, 0, 0],
              ['A', 'A', 'B'], ['A', 'B', 'C'])
    out = MajorityVote().fuse(r)
    # A1 and A2 start two clusters; B joins the closer one (A2, IoU 0.91 vs
    # 0.82); the cluster {A1} alone is dropped
    assert out.agreement.tolist() == [2]
    np.testing.assert_allclose(out.boxes[0], [11.5, 11.5, 51.5, 51.5])
    out = MajorityVote(min_readers=1).fuse(r)
    assert sorted(out.agreement.tolist()) == [1, 2]


def test_nms_keeps_one_of_the_agreeing_boxes():
    out = NMS(iou_thr=0.4).fuse(CASE)
    assert len(out) == 2
    k = out.labels.tolist().index(0)
    assert any(np.allclose(out.boxes[k], b) for b in CASE.boxes[:2])
    assert out.agreement[k] == 2 and out.confidences[k] == pytest.approx(2 / 3)
    j = 1 - k
    np.testing.assert_allclose(out.boxes[j], CASE.boxes[2])
    assert out.agreement[j] == 1 and out.confidences[j] == pytest.approx(1 / 3)


def test_soft_nms_keeps_overlapping_boxes():
    out = SoftNMS(iou_thr=0.4).fuse(CASE)
    assert len(out) == 3
    assert sorted(out.agreement.tolist()) == [1, 2, 2]


def test_nmw_averages_the_cluster():
    out = NMW(iou_thr=0.4).fuse(CASE)
    assert len(out) == 2
    k = out.labels.tolist().index(0)
    # weighted by IoU with the best box: strictly between the two boxes
    assert np.all(out.boxes[k] > CASE.boxes[0] - 1e-4)
    assert np.all(out.boxes[k] < CASE.boxes[1] + 1e-4)
    assert not np.allclose(out.boxes[k], CASE.boxes[0])
    assert out.agreement[k] == 2


def test_suppression_methods_empty_image():
    empty = reads(np.zeros((0, 4)), [], [], ['A', 'B'])
    for m in (NMS(), SoftNMS(), NMW(), MajorityVote(), AllBoxes()):
        assert len(m.fuse(empty)) == 0


def two_reader_case():
    """A and B, 4 images: both draw X (img 1) and Z (img 3); A alone draws Y
    (img 2); B alone draws W (img 4). Each: precision 2/3, recall 2/3, IoU 1."""
    box = [10, 10, 40, 40]
    return [reads([box, box], [0, 0], ['A', 'B'], ['A', 'B']),
            reads([box], [0], ['A'], ['A', 'B']),
            reads([box, box], [1, 1], ['A', 'B'], ['A', 'B']),
            reads([box], [0], ['B'], ['A', 'B'])]


def test_reliability_estimates_leave_one_out():
    m = ReliabilityWBF(progress=False)
    out = m.fuse_dataset(two_reader_case())
    for r in ('A', 'B'):
        e = m.reader_estimates[r]
        assert e['boxes'] == 3 and e['images'] == 4
        assert e['precision'] == pytest.approx(2 / 3)
        assert e['recall'] == pytest.approx(2 / 3)
        assert e['mean_iou'] == pytest.approx(1.0)
        assert e['weight'] == pytest.approx(1.0)
    assert m.iterations == 1
    # equal weights: confidence = readers / R
    assert out[0].confidences.tolist() == [1.0] and out[1].confidences.tolist() == [0.5]
    table = m.report()
    assert 'precision' in table and '0.667' in table


def noisy_third_reader(n_images=150, seed=0):
    """R1, R2 draw the truth with small jitter; R3 draws loose boxes and
    false positives, and misses half the findings."""
    rng = np.random.default_rng(seed)
    data = []
    for _ in range(n_images):
        k = int(rng.integers(1, 4))
        xy = rng.uniform(0, 150, (k, 2))
        truth = np.concatenate([xy, xy + rng.uniform(30, 60, (k, 2))], 1)
        labels = rng.integers(0, 2, k)
        boxes, labs, who = [], [], []
        for r, jitter in (('R1', 1.0), ('R2', 1.0), ('R3', 8.0)):
            for j in range(k):
                if r == 'R3' and rng.random() < 0.5:
                    continue
                boxes.append(truth[j] + rng.normal(0, jitter, 4))
                labs.append(labels[j])
                who.append(r)
            if r == 'R3':
                for _ in range(2):
                    xy0 = rng.uniform(0, 150, 2)
                    boxes.append(np.r_[xy0, xy0 + 30])
                    labs.append(int(rng.integers(0, 2)))
                    who.append(r)
        b = np.clip(np.array(boxes), 0, 256)
        data.append(ImageReads(b, labs, who, ['R1', 'R2', 'R3'], 256.0, 256.0))
    return data


def test_reliability_down_weights_the_noisy_reader():
    data = noisy_third_reader()
    m = ReliabilityWBF(progress=False)
    out = m.fuse_dataset(data)
    est = m.reader_estimates
    assert est['R3']['weight'] < 0.6 * min(est['R1']['weight'], est['R2']['weight'])
    assert est['R3']['precision'] < est['R1']['precision']
    assert est['R3']['recall'] < est['R1']['recall']
    assert est['R3']['mean_iou'] < est['R1']['mean_iou']
    assert max(e['weight'] for e in est.values()) == pytest.approx(1.0)
    # confidence = sum of weights of agreeing readers / sum over the image's readers
    w = {r: e['weight'] for r, e in est.items()}
    members = m.fuse_dataset_members(data)
    for r, f, mem in zip(data[:20], out[:20], members[:20]):
        for k, cluster in enumerate(mem.members):
            agreeing = {r.readers[i] for i in cluster}
            expect = sum(w[x] for x in agreeing) / sum(w.values())
            assert f.confidences[k] == pytest.approx(expect, rel=1e-5)
    # plain WBF gives 1/3 to a box only R3 drew and 2/3 to one R1 and R2 drew
    by_set = {}
    for r, f, mem in zip(data, out, members):
        for k, c in enumerate(mem.members):
            key = frozenset(r.readers[i] for i in c)
            by_set.setdefault(key, []).append(float(f.confidences[k]))
    assert max(by_set[frozenset({'R3'})]) < 1 / 3 - 0.05
    assert min(by_set[frozenset({'R1', 'R2'})]) > 2 / 3 + 0.05


def test_geometry_box_iou():
    iou = box_iou([[0, 0, 10, 10]], [[2, 2, 12, 12], [20, 20, 30, 30]])
    np.testing.assert_allclose(iou, [[64 / 136, 0.0]])


@pytest.mark.parametrize('name', ['reliability_wbf', 'dawid_skene_wbf'])
def test_em_methods_record_how_their_em_ended(name):
    from mmmulti.fusion.base import EMNotConvergedWarning
    data = noisy_third_reader(n_images=60)
    m = build_fusion(name, progress=False)
    assert m.em is None
    m.fuse_dataset(data)
    assert m.em['converged'] is True and m.em['iterations'] >= 1
    assert m.em['delta'] < m.em['tol'] and 'em' not in m.config()
    assert ', converged' in m.report()
    stopped = build_fusion(name, max_iter=1, progress=False)
    with pytest.warns(EMNotConvergedWarning, match=r'max_iter=1 without converging'):
        stopped.fuse_dataset(data)
    assert stopped.em == dict(iterations=1, delta=stopped.em['delta'], converged=False,
                              max_iter=1, tol=stopped.tol)
    assert stopped.em['delta'] >= stopped.tol
    report = stopped.report()
    assert 'NOT converged: stopped at max_iter=1' in report and 'WARNING: ' in report
