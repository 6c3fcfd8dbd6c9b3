"""DawidSkeneWBF on data that hold no evidence of confusion (issue 28): one
reader, or readers who always agree. EM with smoothing used to move rare
classes to the common one there; the obvious answer is the readers' label."""
import warnings

import numpy as np
import pytest

from mmmulti.fusion import ImageReads, PresenceWBF
from mmmulti.fusion.dawid_skene import DawidSkeneWBF


def unanimous_data(num_readers: int, seed: int = 0, num_images: int = 200) -> list:
    """Separate boxes (no two overlap), one common class (0) and 13 rare ones;
    every reader draws every box with the same class."""
    rng = np.random.default_rng(seed)
    readers = [f'R{j}' for j in range(num_readers)]
    out = []
    for _ in range(num_images):
        k = int(rng.integers(1, 4))
        x = np.arange(k) * 30.0 + 2   # boxes 20 px wide, 30 px apart: never one cluster
        b = np.c_[x, np.full(k, 10.0), x + 20, np.full(k, 30.0)]
        lab = rng.choice(14, k, p=np.r_[[0.5], np.full(13, 0.5 / 13)])
        out.append(ImageReads(np.tile(b, (num_readers, 1)), np.tile(lab, num_readers),
                              np.repeat(np.array(readers, dtype=object), k), readers,
                              100.0, 100.0))
    return out


def top_labels(x: ImageReads, fused) -> list:
    """Per fused box (left to right), its highest-confidence class."""
    out = []
    for x1 in np.unique(fused.boxes[:, 0]):
        rows = fused.boxes[:, 0] == x1
        out.append(int(fused.labels[rows][np.argmax(fused.confidences[rows])]))
    return out


@pytest.mark.parametrize('num_readers', [1, 3])
def test_no_disagreement_gives_the_readers_label(num_readers):
    data = unanimous_data(num_readers)
    m = DawidSkeneWBF(progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter('error')      # no EM max_iter warning either
        fused = m.fuse_dataset(data)
    for x, f in zip(data, fused):
        k = len(x) // num_readers
        assert top_labels(x, f) == x.labels[:k].tolist()
        np.testing.assert_allclose(f.confidences, 1.0, rtol=1e-6)   # one class per box
    assert not m.identifiable
    assert m.em['iterations'] == 0 and m.em['converged'] and 'skipped' in m.em
    assert all(e['accuracy'] == pytest.approx(1.0) for e in m.reader_estimates.values())
    assert 'cannot be learnt' in m.report()


def test_single_reader_fuse_after_fit_keeps_its_labels():
    data = unanimous_data(1, seed=3)
    m = DawidSkeneWBF(progress=False)
    m.fuse_dataset(data)
    for x in data[:20]:
        assert top_labels(x, m.fuse(x)) == x.labels.tolist()


def test_presence_class_em_on_unanimous_readers():
    """PresenceWBF's class EM is the same fit: unanimous readers keep their label."""
    data = unanimous_data(3, seed=5)
    fused = PresenceWBF(progress=False).fuse_dataset(data)
    for x, f in zip(data, fused):
        if len(f):
            assert set(top_labels(x, f)) <= set(x.labels.tolist())


def test_one_disagreement_makes_the_fit_run():
    """The skip is for data without any disagreement only: one cluster where two
    readers differ is evidence, and EM runs as before."""
    data = unanimous_data(2, seed=1)
    data[0].labels[0] = (data[0].labels[len(data[0]) // 2] + 1) % 14
    m = DawidSkeneWBF(progress=False)
    m.fuse_dataset(data)
    assert m.identifiable and m.em['iterations'] >= 1 and 'skipped' not in m.em
