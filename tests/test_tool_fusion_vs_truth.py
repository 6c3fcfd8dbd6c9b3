"""tools/analysis/fusion_vs_truth.py: fusion targets scored against the clean truth."""
import importlib.util
import json
import os.path as osp

import numpy as np
import pytest

from conftest import REPO
from mmmulti.analysis.fusion_vs_truth import target_quality
from mmmulti.structures import FusedBoxes, ImageReads


def _truth(boxes, labels):
    return ImageReads(np.asarray(boxes, float), labels, np.array(['t'] * len(labels), object),
                      ['t'], 100.0, 100.0)


def test_target_quality_counts_real_spurious_and_class_split_rows():
    truth = [_truth([[10, 10, 30, 30], [50, 50, 70, 70]], [1, 2])]
    fused = [FusedBoxes(
        # one box as two class-split rows (2: 2/3, 1: 1/3), one spurious box
        np.array([[11, 10, 30, 30], [11, 10, 30, 30], [80, 0, 95, 10]]),
        np.array([2, 1, 0]), np.array([2 / 3, 1 / 3, 0.5]), np.array([3, 3, 1]))]
    q = target_quality('x', fused, truth)
    assert (q.boxes, q.real) == (2, 1) and q.precision == 0.5
    assert q.weight_on_spurious == pytest.approx(0.5 / 1.5)
    assert q.recall == 0.5 and q.class_accuracy == 0.0       # majority 2, truth 1
    assert q.mean_iou == pytest.approx(19 * 20 / 400)
    with pytest.raises(ValueError, match='2 truth images'):
        target_quality('x', fused, truth * 2)


def test_tool_on_generated_data(tmp_path, capsys):
    from mmmulti.simulation import make_med_mnist
    root = tmp_path / 'mm'
    make_med_mnist(str(root), num_train=40, num_val=2, num_test=2, img_size=64, seed=0,
                   preset='vindr_like', progress=False)
    spec = importlib.util.spec_from_file_location(
        'fusion_vs_truth', osp.join(REPO, 'tools', 'analysis', 'fusion_vs_truth.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    ann = root / 'annotations'
    out = tmp_path / 'q.json'
    assert tool.main([str(ann / 'train_multi_reader.json'), str(ann / 'train.json'),
                      '--methods', 'all_boxes', 'soft_wbf', 'presence_wbf',
                      '--out', str(out)]) == 0
    text = capsys.readouterr().out
    assert '| presence_wbf |' in text and '| all_boxes |' in text
    rows = {r['method']: r for r in json.loads(out.read_text())}
    # made-up boxes: all of them in all_boxes, few after presence fusion
    assert rows['all_boxes']['recall'] == 1.0
    assert rows['presence_wbf']['precision'] > rows['soft_wbf']['precision']
    # not the same images: refused, naming the file
    assert tool.main([str(ann / 'train_multi_reader.json'), str(ann / 'val.json')]) == 2
    assert 'val.json lacks' in capsys.readouterr().err
