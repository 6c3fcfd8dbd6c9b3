"""Reader agreement (library numbers + tool) and the fusion figure (library + tool)."""
import json
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from mmmulti.analysis import match_boxes
from mmmulti.analysis.reader_agreement import reader_agreement, reader_agreement_from_file
from mmmulti.fusion.base import FusedBoxes, ImageReads
from mmmulti.simulation import make_med_mnist

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


@pytest.fixture(scope='module')
def med_mnist(tmp_path_factory):
    out = str(tmp_path_factory.mktemp('mm'))
    return make_med_mnist(out, num_train=12, num_val=6, num_test=2, img_size=64,
                          digits_per_image='2-3', seed=2, progress=False)


def test_match_boxes_greedy_one_to_one_same_class():
    a = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [20, 20, 30, 30]], float)
    b = np.array([[1, 0, 11, 10], [0, 0, 10, 10], [20, 20, 30, 30]], float)
    pairs = match_boxes(a, [0, 0, 1], b, [0, 0, 2], iou_thr=0.5)
    # best IoU first: a0-b1 (1.0), then a1-b0 (0.818); the class-1/class-2 pair never matches
    assert [(i, j) for i, j, _ in pairs] == [(0, 1), (1, 0)]
    assert pairs[1][2] == pytest.approx(90 / 110)
    assert match_boxes(a, [0, 0, 1], b, [0, 0, 2], iou_thr=0.9) == [(0, 1, 1.0)]
    assert match_boxes(np.zeros((0, 4)), [], b, [0, 0, 2], 0.5) == []


def _hand_made():
    reads = [
        ImageReads(boxes=[[0, 0, 10, 10], [1, 0, 11, 10], [0, 0, 10, 10], [50, 50, 60, 60]],
                   labels=[0, 0, 1, 0], readers=['A', 'B', 'C', 'C'],
                   image_readers=['A', 'B', 'C'], width=100, height=100),
        ImageReads(boxes=[[0, 0, 5, 5]], labels=[2], readers=['A'],
                   image_readers=['A', 'B'], width=100, height=100),   # B: absent vote
    ]
    fused = [
        FusedBoxes(boxes=[[0.5, 0, 10.5, 10], [0, 0, 10, 10], [50, 50, 60, 60]],
                   labels=[0, 1, 0], confidences=[2 / 3, 1 / 3, 1 / 3], agreement=[2, 1, 1]),
        FusedBoxes(boxes=[[0, 0, 5, 5]], labels=[2], confidences=[0.5], agreement=[1]),
    ]
    return reads, fused


def test_reader_agreement_numbers():
    reads, fused = _hand_made()
    rep = reader_agreement(reads, fused, iou_thr=0.4, min_agreement=1)
    assert rep.readers == ['A', 'B', 'C']
    a, b, c = rep.per_reader
    assert (a.images, a.boxes, a.consensus_boxes, a.matched) == (2, 2, 4, 2)
    assert (a.precision, a.recall) == (1.0, 0.5)
    assert a.mean_iou == pytest.approx((9.5 / 10.5 + 1.0) / 2)
    assert (b.images, b.boxes, b.matched, b.recall) == (2, 1, 1, 0.25)
    assert (c.images, c.boxes, c.consensus_boxes, c.matched) == (1, 2, 3, 2)
    # pairs: A-B match once on image 1, B drew nothing on image 2 -> F1 = 2*1/(2+1)
    assert rep.pair_f1[0, 1] == rep.pair_f1[1, 0] == pytest.approx(2 / 3)
    assert rep.pair_f1[0, 2] == 0.0 and rep.pair_f1[1, 2] == 0.0
    assert rep.pair_images.tolist() == [[2, 2, 1], [2, 2, 1], [1, 1, 1]]
    np.testing.assert_array_equal(np.diag(rep.pair_f1), 1.0)

    rep2 = reader_agreement(reads, fused, iou_thr=0.4, min_agreement=2)
    a, b, c = rep2.per_reader
    assert (a.consensus_boxes, a.matched, a.precision, a.recall) == (1, 1, 0.5, 1.0)
    assert (c.matched, c.precision, c.recall) == (0, 0.0, 0.0)
    assert np.isnan(c.mean_iou)
    d = rep2.to_dict()
    assert d['per_reader'][2]['mean_iou'] is None
    json.dumps(d)  # serialisable
    text = rep2.format()
    assert 'precision' in text and '0.667 [2]' in text


def test_reader_agreement_on_simulated_readers(med_mnist):
    rep = reader_agreement_from_file(med_mnist['train_multi_reader'], iou_thr=0.4)
    assert rep.readers == ['R1', 'R2', 'R3']
    for s in rep.per_reader:
        assert s.images == 12
        # simulated boxes all have IoU >= p = 0.8 with the truth: matches are tight
        assert s.matched > 0 and s.mean_iou > 0.7
        assert 0 < s.precision <= 1 and 0 < s.recall <= 1
    off = rep.pair_f1[~np.eye(3, dtype=bool)]
    assert ((off > 0.3) & (off <= 1)).all()
    with pytest.raises(ValueError, match='single_truth file has no readers'):
        reader_agreement_from_file(med_mnist['test'])


def _check_png(path, min_w, min_h):
    assert osp.isfile(path)
    with Image.open(path) as im:
        assert im.format == 'PNG'
        w, h = im.size
        im.load()
        arr = np.asarray(im.convert('L'))
    assert w >= min_w and h >= min_h
    assert arr.std() > 5  # not a blank canvas
    return w, h


def test_reader_agreement_tool_as_in_readme(med_mnist, tmp_path):
    res = subprocess.run(
        [sys.executable, 'tools/analysis/reader_agreement.py', med_mnist['train_multi_reader'],
         '--method', 'wbf', '--iou-thr', '0.4', '--out-dir', str(tmp_path / 'ra')],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert 'Pairwise F1' in res.stdout and 'R3' in res.stdout
    _check_png(str(tmp_path / 'ra' / 'reader_agreement.png'), 600, 300)
    saved = json.load(open(tmp_path / 'ra' / 'reader_agreement.json'))
    lib = reader_agreement_from_file(med_mnist['train_multi_reader'], iou_thr=0.4)
    assert [r['matched'] for r in saved['per_reader']] == [s.matched for s in lib.per_reader]


def test_show_fusion_tool_as_in_readme(med_mnist, tmp_path):
    out = tmp_path / 'fig' / 'show_fusion.png'
    res = subprocess.run(
        [sys.executable, 'tools/analysis/show_fusion.py', med_mnist['val_multi_reader'],
         '--img-dir', med_mnist['val_images'], '--num', '3', '--method', 'wbf',
         '--iou-thr', '0.4', '--out', str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    w, h = _check_png(str(out), 600, 900)
    assert h > w  # three rows of two panels


def test_fusion_figure_library(med_mnist, tmp_path):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from mmmulti.visualization import draw_reader_boxes, fusion_examples, reader_colors
    items, names, readers = fusion_examples(med_mnist['val_multi_reader'],
                                            med_mnist['val_images'], num=2, seed=1)
    assert len(items) == 2 and names == [str(k) for k in range(10)]
    assert all(it['image'].shape == (64, 64) for it in items)
    items, _, _ = fusion_examples(med_mnist['val_multi_reader'], med_mnist['val_images'],
                                  image_ids=['2', '000004'])   # COCO id, file name stem
    assert [it['name'] for it in items] == ['image 2 (000001.png)', 'image 5 (000004.png)']
    # a reader who drew nothing appears in the legend as an absent vote
    reads = ImageReads(boxes=[[1, 1, 9, 9]], labels=[3], readers=['R1'],
                       image_readers=['R1', 'R2'], width=16, height=16)
    fig = Figure()
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    ax.imshow(np.zeros((16, 16)))
    draw_reader_boxes(ax, reads, reader_colors(['R1', 'R2']), names)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ['R1 (1 box)', 'R2 (no box)']
    assert [t.get_text() for t in ax.texts] == ['3']
    with pytest.raises(KeyError, match='999'):
        fusion_examples(med_mnist['val_multi_reader'], med_mnist['val_images'],
                        image_ids=['999'])
    with pytest.raises(FileNotFoundError, match='image file not found'):
        fusion_examples(med_mnist['val_multi_reader'], str(tmp_path), num=1)
