"""tools/ensemble.py run as the README shows, on a tools/test.py-style .pkl and a
COCO results json, with a hand-computed fused answer."""
import json
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmdet.evaluation import DumpDetResults

from mmmulti.evaluation import evaluate_coco_results, load_predictions

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
A_BOX, B_BOX, B_OTHER = (20, 10, 60, 50), (24, 14, 64, 54), (80, 60, 120, 90)
# json order unsorted: model label 0 -> category 5 ('effusion'), 1 -> 3 ('nodule')
CATEGORIES = [dict(id=5, name='effusion'), dict(id=3, name='nodule')]


def xywh(x1, y1, x2, y2):
    return [x1, y1, x2 - x1, y2 - y1]


@pytest.fixture()
def files(tmp_path):
    gt = dict(images=[dict(id=1, file_name='1.png', width=200, height=100),
                      dict(id=2, file_name='2.png', width=50, height=50)],
              annotations=[dict(id=1, image_id=1, category_id=3, bbox=xywh(*A_BOX),
                                area=1600, iscrowd=0),
                           dict(id=2, image_id=1, category_id=5, bbox=xywh(*B_OTHER),
                                area=1200, iscrowd=0)],
              categories=CATEGORIES)
    gt_path = str(tmp_path / 'test.json')
    json.dump(gt, open(gt_path, 'w'))
    # model A: what tools/test.py --out writes (mmdet DumpDetResults)
    pkl_path = str(tmp_path / 'reader_A.pkl')
    dumper = DumpDetResults(out_file_path=pkl_path)
    dumper.process({}, [
        dict(img_id=1, ori_shape=(100, 200),
             pred_instances=dict(bboxes=torch.tensor([A_BOX], dtype=torch.float32),
                                 scores=torch.tensor([0.9]), labels=torch.tensor([1]))),
        dict(img_id=2, ori_shape=(50, 50),
             pred_instances=dict(bboxes=torch.zeros((0, 4)), scores=torch.zeros(0),
                                 labels=torch.zeros(0, dtype=torch.long)))])
    dumper.evaluate(2)
    # model B: COCO results json
    json_path = str(tmp_path / 'reader_B.bbox.json')
    json.dump([dict(image_id=1, category_id=3, bbox=xywh(*B_BOX), score=0.6),
               dict(image_id=1, category_id=5, bbox=xywh(*B_OTHER), score=0.4)],
              open(json_path, 'w'))
    return gt_path, pkl_path, json_path, tmp_path


def run_tool(*args):
    proc = subprocess.run([sys.executable, 'tools/ensemble.py', *args], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_pkl_labels_map_to_gt_categories(files):
    gt_path, pkl_path, _, _ = files
    preds = load_predictions(pkl_path, gt_path)
    assert preds == [dict(image_id=1, category_id=3, bbox=pytest.approx(xywh(*A_BOX)),
                          score=pytest.approx(0.9))]


def test_tool_readme_example(files):
    """The README command: a .pkl and a .json, weights 1 2, --json."""
    gt_path, pkl_path, json_path, tmp_path = files
    out = str(tmp_path / 'readers_ensemble.bbox.json')
    stdout = run_tool(pkl_path, json_path, '--gt', gt_path, '--out', out,
                      '--iou-thr', '0.55', '--weights', '1', '2', '--json')
    assert 'AP@0.4' in stdout and 'nodule' in stdout
    fused = {p['category_id']: p for p in json.load(open(out))}
    assert set(fused) == {3, 5} and all(p['image_id'] == 1 for p in fused.values())
    sa, sb = 0.9 * 1, 0.6 * 2  # score x weight
    box = (sa * np.array(A_BOX) + sb * np.array(B_BOX)) / (sa + sb)
    np.testing.assert_allclose(fused[3]['bbox'], xywh(*box), rtol=1e-5)
    assert fused[3]['score'] == pytest.approx((sa + sb) / 2 * min(2, 2) / 3, rel=1e-5)
    assert fused[5]['score'] == pytest.approx(0.4 * 2 / 3, rel=1e-5)
    metrics = json.loads(stdout.strip().splitlines()[-1])
    want = evaluate_coco_results(gt_path, out)
    assert metrics['map_40'] == pytest.approx(want['map_40'])
    assert metrics['map_50_95'] == pytest.approx(want['map_50_95'])
    assert metrics['map_40'] == pytest.approx(1.0)  # both fused boxes hit at IoU 0.4


@pytest.mark.slow
def test_tool_default_weights(files):
    gt_path, pkl_path, json_path, tmp_path = files
    out = str(tmp_path / 'fused.json')
    run_tool(pkl_path, json_path, '--gt', gt_path, '--out', out, '--conf-type', 'avg')
    fused = {p['category_id']: p for p in json.load(open(out))}
    assert fused[3]['score'] == pytest.approx((0.9 + 0.6) / 2, rel=1e-5)


@pytest.mark.slow
def test_tool_help():
    proc = subprocess.run([sys.executable, 'tools/ensemble.py', '--help'], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and '--iou-thr' in proc.stdout
