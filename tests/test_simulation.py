"""MED-MNIST simulator: reader statistics, box guarantees, determinism, IO."""
import gzip
import hashlib
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from mmmulti.analysis.matching import box_iou
from mmmulti.simulation import make_med_mnist, parse_count_range, sample_transition_matrix
from mmmulti.simulation.digits import load_mnist_idx, render_digit

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def _load(path):
    with open(path) as f:
        return json.load(f)


def _xyxy(bbox):
    x, y, w, h = bbox
    return [x, y, x + w, y + h]


@pytest.fixture(scope='module', params=[0.8, 0.6])
def generated(request, tmp_path_factory):
    p = request.param
    out = str(tmp_path_factory.mktemp(f'medmnist_{p}'))
    paths = make_med_mnist(out, num_train=160, num_val=20, num_test=10, img_size=96,
                           num_readers=3, proficiency=p, digits_per_image='2-4',
                           seed=3, progress=False)
    return p, paths


def test_transition_matrix_shape_and_dominance():
    rng = np.random.default_rng(0)
    for p in (0.3, 0.6, 0.8, 0.99):
        m = sample_transition_matrix(10, p, rng)
        assert m.shape == (10, 11)
        np.testing.assert_allclose(m.sum(1), 1.0)
        diag = m[np.arange(10), np.arange(10)]
        assert (diag >= 0.5).all() and (diag <= 1.0).all()
        # off-diagonal mass spread evenly over 9 wrong classes + no_obj
        off = m.copy()
        off[np.arange(10), np.arange(10)] = np.nan
        np.testing.assert_allclose(off[:, -1], (1 - diag) / 10)
        assert np.nanstd(off, axis=1).max() < 1e-12
    # the diagonal follows N(p, 0.05): mean of many rows near p
    diag = np.concatenate([np.diag(sample_transition_matrix(10, 0.7, rng)[:, :10])
                           for _ in range(200)])
    assert abs(diag.mean() - 0.7) < 0.01 and 0.04 < diag.std() < 0.06


def test_flip_and_miss_rates_match_matrices(generated):
    p, paths = generated
    meta = _load(paths['readers'])
    mats = {r['id']: np.array(r['transition_matrix']) for r in meta['readers']}
    truth = {a['id']: a for a in _load(paths['train'])['annotations']}
    reads = _load(paths['train_multi_reader'])['annotations']
    labels = np.array([t['category_id'] for t in truth.values()])
    for rid, m in mats.items():
        mine = [a for a in reads if a['reader'] == rid]
        n_obj, n_drawn = len(labels), len(mine)
        # misses: each object missed with probability A[c, no_obj]
        q_miss = m[labels, -1]
        miss = 1 - n_drawn / n_obj
        tol = 4 * np.sqrt((q_miss * (1 - q_miss)).sum()) / n_obj + 1e-3
        assert abs(miss - q_miss.mean()) < tol, (rid, miss, q_miss.mean())
        # relabelling among drawn boxes: P(c' != c | drawn)
        q_flip = (1 - m[labels, labels] - m[labels, -1]) / (1 - m[labels, -1])
        flip = np.mean([a['category_id'] != truth[a['sim_object']]['category_id']
                        for a in mine])
        exp_flip = q_flip.mean()
        tol = 4 * np.sqrt(exp_flip * (1 - exp_flip) / n_drawn) + 1e-3
        assert abs(flip - exp_flip) < tol, (rid, flip, exp_flip)
        # and the matrices themselves are centred on p (0.9 of the error is relabelling)
        assert abs(np.diag(m[:, :10]).mean() - p) < 0.05
        assert abs(flip - 0.9 * (1 - p)) < 0.1


def test_every_reader_box_overlaps_its_true_box(generated):
    p, paths = generated
    for split in ('train', 'val'):
        truth = {a['id']: a for a in _load(paths[split])['annotations']}
        reads = _load(paths[f'{split}_multi_reader'])['annotations']
        assert reads
        ious = np.array([box_iou([_xyxy(a['bbox'])], [_xyxy(truth[a['sim_object']]['bbox'])])[0, 0]
                         for a in reads])
        assert ious.min() >= p - 1e-9
        assert ious.mean() < 0.999  # boxes are actually jittered


def test_multi_reader_contract(generated):
    _, paths = generated
    d = _load(paths['val_multi_reader'])
    assert all(im['readers'] == ['R1', 'R2', 'R3'] for im in d['images'])
    assert {a['reader'] for a in d['annotations']} <= {'R1', 'R2', 'R3'}
    assert [c['name'] for c in d['categories']] == [str(k) for k in range(10)]
    clean = _load(paths['test'])
    assert all('readers' not in im for im in clean['images'])
    assert all('reader' not in a for a in clean['annotations'])
    assert len(clean['images']) == 10


def test_true_boxes_are_tight(generated):
    _, paths = generated
    d = _load(paths['train'])
    by_image = {}
    for a in d['annotations']:
        by_image.setdefault(a['image_id'], []).append(a)
    for im in d['images'][:40]:
        arr = np.asarray(Image.open(osp.join(paths['train_images'], im['file_name'])))
        assert arr.shape == (96, 96)
        covered = np.zeros(arr.shape, bool)
        for a in by_image.get(im['id'], []):
            x, y, w, h = (int(v) for v in a['bbox'])
            patch = arr[y:y + h, x:x + w]
            # every edge of the box touches a digit pixel
            assert patch[0].any() and patch[-1].any()
            assert patch[:, 0].any() and patch[:, -1].any()
            covered[y:y + h, x:x + w] = True
        assert not arr[~covered].any()  # no digit pixel outside the true boxes


def _hash_tree(root):
    h = {}
    for dirpath, _, files in os.walk(root):
        for f in files:
            path = osp.join(dirpath, f)
            with open(path, 'rb') as fh:
                h[osp.relpath(path, root)] = hashlib.sha256(fh.read()).hexdigest()
    return h


def test_same_seed_same_bytes(tmp_path):
    kw = dict(num_train=8, num_val=3, num_test=3, img_size=64, progress=False)
    a = _hash_tree(make_med_mnist(str(tmp_path / 'a'), seed=5, **kw)['root'])
    b = _hash_tree(make_med_mnist(str(tmp_path / 'b'), seed=5, **kw)['root'])
    c = _hash_tree(make_med_mnist(str(tmp_path / 'c'), seed=6, **kw)['root'])
    assert a == b
    assert len(a) == 8 + 3 + 3 + 6
    assert a != c


def _write_idx(path, arr, magic):
    header = magic.to_bytes(4, 'big') + b''.join(int(d).to_bytes(4, 'big') for d in arr.shape)
    data = header + arr.astype(np.uint8).tobytes()
    if path.endswith('.gz'):
        with gzip.open(path, 'wb') as f:
            f.write(data)
    else:
        with open(path, 'wb') as f:
            f.write(data)


def test_mnist_idx_source(tmp_path):
    rng = np.random.default_rng(0)
    n = 40
    images = np.zeros((n, 28, 28), np.uint8)
    labels = np.arange(n) % 10
    for k in range(n):  # a bright blob whose width encodes the label
        images[k, 6:22, 8:10 + labels[k]] = 200 + rng.integers(0, 55)
    d = tmp_path / 'mnist'
    d.mkdir()
    _write_idx(str(d / 'train-images-idx3-ubyte.gz'), images, 2051)
    _write_idx(str(d / 'train-labels-idx1-ubyte'), labels, 2049)
    bank = load_mnist_idx(str(d))
    assert bank.images.shape == (n, 28, 28)
    np.testing.assert_array_equal(bank.labels, labels)
    paths = make_med_mnist(str(tmp_path / 'out'), num_train=5, num_val=1, num_test=1,
                           img_size=64, mnist_dir=str(d), progress=False)
    assert len(_load(paths['train'])['images']) == 5
    # corrupt: truncated image data
    _write_idx(str(d / 'train-images-idx3-ubyte.gz'), images, 2051)
    with gzip.open(str(d / 'train-images-idx3-ubyte.gz'), 'rb') as f:
        raw = f.read()
    with gzip.open(str(d / 'train-images-idx3-ubyte.gz'), 'wb') as f:
        f.write(raw[:-100])
    with pytest.raises(ValueError, match='train-images-idx3-ubyte.gz.*bytes'):
        load_mnist_idx(str(d))
    # wrong magic
    _write_idx(str(d / 'train-images-idx3-ubyte.gz'), images, 2049)
    with pytest.raises(ValueError, match='magic'):
        load_mnist_idx(str(d))
    os.remove(str(d / 'train-labels-idx1-ubyte'))
    with pytest.raises(FileNotFoundError, match='train-labels-idx1'):
        load_mnist_idx(str(d))


def test_render_digit_is_cropped_tight():
    img = np.zeros((8, 8), np.uint8)
    img[2:6, 3:5] = 255
    patch = render_digit(img, 40)
    assert patch[0].any() and patch[-1].any() and patch[:, 0].any() and patch[:, -1].any()
    assert patch.shape[0] > patch.shape[1]


def test_parse_count_range():
    assert parse_count_range('1-4') == (1, 4)
    assert parse_count_range('3') == (3, 3)
    assert parse_count_range(2) == (2, 2)
    for bad in ('0-2', '4-2', 'a-b', '1-2-3'):
        with pytest.raises(ValueError):
            parse_count_range(bad)


def test_tool_as_in_readme(tmp_path):
    out = tmp_path / 'med_mnist'
    res = subprocess.run(
        [sys.executable, 'tools/dataset_converters/make_med_mnist.py', '--out', str(out),
         '--num-train', '6', '--num-val', '2', '--num-test', '2', '--img-size', '64',
         '--readers', '2', '--proficiency', '0.7', '--seed', '1'],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert 'reader R2' in res.stdout
    ann = out / 'annotations'
    for name in ('train_multi_reader', 'val_multi_reader', 'train', 'val', 'test', 'readers'):
        assert (ann / f'{name}.json').is_file()
    assert len(_load(str(ann / 'readers.json'))['readers']) == 2
    pngs = sorted((out / 'images' / 'train').glob('*.png'))
    assert len(pngs) == 6
    with Image.open(pngs[0]) as im:
        assert im.format == 'PNG' and im.size == (64, 64)
