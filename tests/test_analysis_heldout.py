"""Held-out-reader validation: the loop on sets where the answer is known, the tool, bad input."""
import importlib.util
import json
import os.path as osp

import numpy as np
import pytest

from conftest import REPO
from mmmulti.analysis.heldout import (corrected_p_real, heldout_validation,
                                      parse_method_spec, without_reader)
from mmmulti.structures import ImageReads

BOX = [10.0, 10.0, 30.0, 30.0]
FAR = [60.0, 60.0, 80.0, 80.0]


def _image(boxes_by_reader, readers=('A', 'B', 'C')):
    boxes, labels, who = [], [], []
    for r, items in boxes_by_reader.items():
        for box, label in items:
            boxes.append(box)
            labels.append(label)
            who.append(r)
    return ImageReads(np.array(boxes, float).reshape(-1, 4), labels, np.array(who, object),
                      list(readers), 100.0, 100.0)


def _tool():
    spec = importlib.util.spec_from_file_location(
        'heldout_reader', osp.join(REPO, 'tools', 'analysis', 'heldout_reader.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


def test_loop_counts_confirmations_by_hand():
    # image 1: all three readers drew BOX (class 0); image 2: only A drew FAR (class 1)
    # and B drew BOX as class 2 (a class the others did not draw)
    reads = [_image({'A': [(BOX, 0)], 'B': [(BOX, 0)], 'C': [(BOX, 0)]}),
             _image({'A': [(FAR, 1)], 'B': [(BOX, 2)]})]
    rep = heldout_validation(reads, [parse_method_spec('wbf')])
    m = rep['methods']['wbf']
    # held out A: img1 BOX 2/2 confirmed; img2 BOX(2) 1/2 by B, not confirmed by A
    # held out B: img1 2/2 confirmed; img2 FAR 1/2 by A, not confirmed
    # held out C: img1 2/2 confirmed; img2 FAR 1/2 and BOX 1/2, neither confirmed
    assert m['by_agreement']['2/2'] == pytest.approx(
        dict(boxes=3, confirmed=1.0, confidence=1.0, predicted=1.0,
             p_real_corrected=m['by_agreement']['2/2']['p_real_corrected']))
    assert m['by_agreement']['1/2']['boxes'] == 4
    assert m['by_agreement']['1/2']['confirmed'] == 0.0
    # held-out boxes: img1 3 (all recovered), img2 2 (A's FAR and B's BOX: not recovered)
    assert m['recall'] == pytest.approx(3 / 5)
    assert m['boxes'] == 7 and rep['images'] == 2


def test_correction_formula():
    # rate 0.5 with s 0.8, f 0.1 -> (0.5 - 0.1) / 0.7
    y = np.array([1, 0, 1, 0], float)
    assert corrected_p_real(y, np.full(4, 0.8), np.full(4, 0.1)) == pytest.approx(0.4 / 0.7)
    assert corrected_p_real(np.zeros(2), np.full(2, 0.8), np.full(2, 0.1)) == 0.0


def test_without_reader():
    x = _image({'A': [(BOX, 0)], 'B': [(FAR, 1)]})
    rest, hb, hl = without_reader(x, 'A')
    assert rest.image_readers == ['B', 'C'] and len(rest) == 1 and hl.tolist() == [0]


def test_parse_method_spec():
    assert parse_method_spec('presence_wbf:min_confidence=0,correct_bias=true') == (
        'presence_wbf:min_confidence=0,correct_bias=true', 'presence_wbf',
        dict(min_confidence=0, correct_bias=True))
    for bad in ('wbf:iou_thr', ':x=1', 'wbf:iou_thr=nan'):
        with pytest.raises(ValueError):
            parse_method_spec(bad)


def test_calibrated_wbf_on_simulated_readers(tmp_path):
    """On vindr_like readers the held-out figures of WBF are those the readers
    imply, calibrated WBF's predicted confirmation is calibrated far better,
    and the corrected confirmation rate tracks the truth."""
    from mmmulti.io import load_multi_reader_coco
    from mmmulti.simulation import make_med_mnist
    root = tmp_path / 'vl'
    make_med_mnist(str(root), num_train=400, num_val=2, num_test=2, img_size=64, seed=5,
                   preset='vindr_like', progress=False)
    ann = root / 'annotations'
    src = load_multi_reader_coco(str(ann / 'train_multi_reader.json'))
    truth = load_multi_reader_coco(str(ann / 'train.json'))
    rep = heldout_validation(src.reads, [parse_method_spec('wbf'),
                                         parse_method_spec('calibrated_wbf')],
                             truth=truth.reads)
    wbf, cal = rep['methods']['wbf'], rep['methods']['calibrated_wbf']
    # the same clusters, other confidences
    assert wbf['boxes'] == cal['boxes'] and wbf['recall'] == cal['recall']
    lone, both = wbf['by_agreement']['1/2'], wbf['by_agreement']['2/2']
    assert 0.15 < lone['confirmed'] < 0.4 and 0.6 < both['confirmed'] < 0.85
    assert cal['ece'] < 0.5 * wbf['ece']
    assert cal['truth_all_readers']['ece'] < wbf['truth_all_readers']['ece']
    for level in ('1/2', '2/2'):
        row = wbf['by_agreement'][level]
        assert abs(row['p_real_corrected'] - row['truth_precision']) < 0.1


def test_tool_writes_outputs_and_refuses_bad_input(tmp_path, capsys):
    from mmmulti.simulation import make_med_mnist
    root = tmp_path / 'mm'
    make_med_mnist(str(root), num_train=60, num_val=2, num_test=2, img_size=64, seed=0,
                   preset='vindr_like', progress=False)
    ann = root / 'annotations'
    tool = _tool()
    out = tmp_path / 'ho'
    assert tool.main([str(ann / 'train_multi_reader.json'), '--methods', 'wbf',
                      'presence_wbf:min_confidence=0', '--truth', str(ann / 'train.json'),
                      '--out', str(out), '--quiet']) == 0
    rep = json.loads((out / 'heldout.json').read_text())
    assert rep['images'] == 60
    m = rep['methods']['wbf']
    for key in ('boxes', 'recall', 'ece', 'brier', 'auc', 'by_agreement'):
        assert key in m
    assert set(m['by_agreement']) <= {'1/2', '2/2'}
    assert (out / 'reliability.png').stat().st_size > 5000
    assert '| wbf |' in (out / 'heldout.md').read_text()
    capsys.readouterr()
    # an unknown method
    assert tool.main([str(ann / 'train_multi_reader.json'), '--methods', 'nope',
                      '--out', str(out)]) == 2
    assert 'unknown fusion method' in capsys.readouterr().err
    # a clean (single-truth) file: no readers to hold out
    assert tool.main([str(ann / 'train.json'), '--out', str(out)]) == 2
    assert 'train.json' in capsys.readouterr().err
    # an empty file
    empty = tmp_path / 'empty.json'
    empty.write_text('')
    assert tool.main([str(empty), '--out', str(out)]) == 2
    assert 'empty.json' in capsys.readouterr().err
    # fewer than 3 readers everywhere
    two = json.loads((ann / 'train_multi_reader.json').read_text())
    for img in two['images']:
        img['readers'] = img['readers'][:2]
    keep = {r for img in two['images'] for r in img['readers']}
    two['annotations'] = [a for a in two['annotations'] if a['reader'] in keep]
    path = tmp_path / 'two.json'
    path.write_text(json.dumps(two))
    assert tool.main([str(path), '--out', str(out)]) == 2
    err = capsys.readouterr().err
    assert 'two.json' in err and 'at least 3 readers' in err
    assert tool.main([str(ann / 'train_multi_reader.json'), '--iou-thr', '1.5',
                      '--out', str(out)]) == 2


def test_tool_runs_on_converted_vindr_labels(tmp_path, capsys):
    """The VinDr-CXR layout: 3 of several radiologists per image, 'No finding'
    rows as readers who drew nothing, converted by the project's converter."""
    import csv
    from mmmulti.converters import VINDR_CLASSES, convert_vindr_csv
    rng = np.random.default_rng(0)
    rads = [f'R{k}' for k in range(8, 13)]
    rows = []
    for i in range(40):
        readers = rng.choice(rads, 3, replace=False)
        x, y = rng.integers(50, 400, 2)
        for r in readers:
            if rng.random() < 0.3:
                rows.append([f'img{i}', 'No finding', 14, r, '', '', '', '', 512, 512])
                continue
            jitter = rng.normal(0, 4, 4)
            box = np.array([x, y, x + 80, y + 60]) + jitter
            rows.append([f'img{i}', VINDR_CLASSES[3], 3, r, *np.round(box, 1), 512, 512])
    path = tmp_path / 'train.csv'
    with open(path, 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['image_id', 'class_name', 'class_id', 'rad_id', 'x_min', 'y_min',
                    'x_max', 'y_max', 'width', 'height'])
        w.writerows(rows)
    coco, _ = convert_vindr_csv(str(path), progress=False)
    ann = tmp_path / 'vindr.json'
    ann.write_text(json.dumps(coco))
    out = tmp_path / 'ho'
    assert _tool().main([str(ann), '--out', str(out), '--quiet']) == 0
    rep = json.loads((out / 'heldout.json').read_text())
    assert rep['images'] == 40 and set(rep['held_out']) <= set(rads)
    # a reader with 'No finding' read the image: boxes backed by 1 of 2 exist
    assert '1/2' in rep['methods']['wbf']['by_agreement']
