"""CalibratedWBF: WBF's boxes with P(real) as confidence, from fitted reader rates."""
import numpy as np
import pytest

from mmmulti.fusion import WBF, CalibratedWBF, build_fusion
from mmmulti.fusion.reader_rates import ReaderRateModel


@pytest.fixture(scope='module')
def vindr_like(tmp_path_factory):
    from mmmulti.io import load_multi_reader_coco
    from mmmulti.simulation import make_med_mnist
    root = tmp_path_factory.mktemp('cal') / 'vl'
    make_med_mnist(str(root), num_train=300, num_val=2, num_test=2, img_size=64, seed=1,
                   preset='vindr_like', progress=False)
    ann = root / 'annotations'
    return (load_multi_reader_coco(str(ann / 'train_multi_reader.json')).reads,
            load_multi_reader_coco(str(ann / 'train.json')).reads)


def test_same_boxes_as_wbf_every_cluster_kept(vindr_like):
    reads, _ = vindr_like
    cal = build_fusion('calibrated_wbf', progress=False)
    assert isinstance(cal, CalibratedWBF)
    fused = cal.fuse_dataset(reads)
    plain = WBF(iou_thr=0.4, progress=False).fuse_dataset(reads)
    for a, b in zip(fused, plain):
        np.testing.assert_array_equal(a.boxes, b.boxes)
        np.testing.assert_array_equal(a.agreement, b.agreement)
        assert ((a.confidences > 0) & (a.confidences <= 1)).all()
    assert cal.dropped == 0 and cal.em['converged']
    # lone boxes of readers who make findings up are mostly not real; 3/3 boxes are
    conf = np.concatenate([f.confidences for f in fused])
    agree = np.concatenate([f.agreement for f in fused])
    assert conf[agree == 1].mean() < 0.3 < 0.95 < conf[agree == 3].mean()
    # one image under the fitted model = its row of the data-set fit
    for x, f in list(zip(reads, fused))[:20]:
        np.testing.assert_allclose(cal.fuse(x).confidences, f.confidences, rtol=1e-6)
    assert 'converged' in cal.report() and 'sensitivity' in cal.report()


def test_fitted_rates_near_the_simulated_readers(vindr_like):
    reads, _ = vindr_like
    cal = CalibratedWBF(progress=False)
    cal.fuse_dataset(reads)
    for r, e in cal.reader_estimates.items():
        # vindr_like: 0.5 made-up boxes per image, plus the ~0.45 per image a
        # reader names with a wrong class (no true finding of *that* class there);
        # same-class sensitivity ~0.7-0.8
        assert 0.6 < e['false_positives_per_image'] < 1.2, (r, e)
        assert 0.55 < e['sensitivity'] < 0.9, (r, e)
        assert e['coincidence'] < 0.05


def test_min_confidence_drops_and_counts(vindr_like):
    reads, _ = vindr_like
    cal = CalibratedWBF(min_confidence=0.5, progress=False)
    fused = cal.fuse_dataset(reads)
    kept = sum(len(f) for f in fused)
    assert cal.dropped > 0 and kept + cal.dropped == cal.clusters
    assert all((f.confidences >= 0.5).all() for f in fused)


def test_predict_confirmation_and_bad_options(vindr_like):
    reads, _ = vindr_like
    cal = CalibratedWBF(progress=False)
    with pytest.raises(ValueError, match='no fitted rates'):
        cal.predict_confirmation(np.array([0.5]), 'R1')
    cal.fuse_dataset(reads)
    s = cal.reader_estimates['R1']['sensitivity']
    f = cal.reader_estimates['R1']['coincidence']
    np.testing.assert_allclose(cal.predict_confirmation(np.array([0.0, 1.0]), 'R1'), [f, s])
    for bad in (dict(min_confidence=1.0), dict(size_bins=-1), dict(max_iter=0),
                dict(tol=0.0), dict(shrink=-1.0)):
        with pytest.raises(ValueError):
            CalibratedWBF(**bad)


def test_em_warns_at_max_iter(vindr_like):
    from mmmulti.fusion.base import EMNotConvergedWarning
    reads, _ = vindr_like
    cal = CalibratedWBF(max_iter=1, progress=False)
    with pytest.warns(EMNotConvergedWarning, match='max_iter=1'):
        cal.fuse_dataset(reads)
    assert cal.em['converged'] is False and cal.em['iterations'] == 1


def test_rate_model_recovers_known_rates():
    """Votes drawn from the model itself: the fit finds the rates it was drawn with."""
    rng = np.random.default_rng(0)
    s_true, mu_true, lam = np.array([0.9, 0.7, 0.5]), np.array([0.2, 0.5, 0.1]), 1.5
    drew, real = [], []
    images = 6000
    for _ in range(images):
        for _ in range(rng.poisson(lam)):
            y = (rng.random(3) < s_true).astype(float)
            if y.any():
                drew.append(y)
                real.append(1)
        for a in range(3):
            for _ in range(rng.poisson(mu_true[a])):
                y = np.zeros(3)
                y[a] = 1
                drew.append(y)
                real.append(0)
    drew = np.array(drew)
    read = np.ones_like(drew)
    model = ReaderRateModel(max_iter=2000, tol=1e-7)
    post, fit = model.fit(drew, read, np.zeros(len(drew), np.int64), 1, ['A', 'B', 'C'],
                          np.full(3, 1e-4), np.full(3, images), images)
    assert fit.em.converged
    np.testing.assert_allclose(fit.sensitivity, s_true, atol=0.03)
    np.testing.assert_allclose(fit.made_up, mu_true, atol=0.03)
    assert fit.real_rate[0] == pytest.approx(lam, rel=0.05)
    # a posterior is a probability: among clusters given ~p, about p are real
    real = np.array(real)
    for lo, hi in ((0.0, 0.3), (0.3, 0.7), (0.7, 1.01)):
        sel = (post >= lo) & (post < hi)
        if sel.sum() > 200:
            assert abs(post[sel].mean() - real[sel].mean()) < 0.03
