"""tools/analysis/eval_results.py as the README shows; --json's last line."""
import json
import os.path as osp
import subprocess
import sys

import pytest

from mmmulti.evaluation import evaluate_coco_results

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
GT = dict(
    images=[dict(id=i, file_name=f'{i}.png', width=100, height=80) for i in (1, 2, 3)],
    annotations=[dict(id=1, image_id=1, category_id=0, bbox=[10, 10, 20, 20], area=400,
                      iscrowd=0),
                 dict(id=2, image_id=2, category_id=1, bbox=[30, 30, 30, 20], area=600,
                      iscrowd=0)],
    categories=[dict(id=0, name='nodule'), dict(id=1, name='effusion'),
                dict(id=2, name='mass')])
PRED = [dict(image_id=1, category_id=0, bbox=[12, 11, 20, 20], score=0.9),
        dict(image_id=2, category_id=0, bbox=[50, 50, 10, 10], score=0.95),
        dict(image_id=2, category_id=1, bbox=[34, 30, 30, 22], score=0.5),
        dict(image_id=3, category_id=2, bbox=[5, 5, 10, 10], score=0.2)]


def run(tmp_path, *extra):
    gt_path, pred_path = str(tmp_path / 'test.json'), str(tmp_path / 'results.bbox.json')
    json.dump(GT, open(gt_path, 'w'))
    json.dump(PRED, open(pred_path, 'w'))
    proc = subprocess.run([sys.executable, 'tools/analysis/eval_results.py', '--gt', gt_path,
                           '--pred', pred_path, *extra], cwd=REPO, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout, gt_path, pred_path


def test_json_last_line(tmp_path):
    """The README command with --json: a table, then one JSON line."""
    stdout, gt_path, pred_path = run(tmp_path, '--json')
    assert 'AP@0.4' in stdout and 'effusion' in stdout
    out = json.loads(stdout.strip().splitlines()[-1])
    assert {'map_40', 'map_50_95', 'per_class'} <= set(out)
    want = evaluate_coco_results(gt_path, pred_path)
    assert out['map_40'] == pytest.approx(want['map_40'])
    assert out['map_50_95'] == pytest.approx(want['map_50_95'])
    assert set(out['per_class']) == {'nodule', 'effusion', 'mass'}
    assert out['per_class']['mass'] == {'ap_40': None, 'ap_50_95': None}  # no gt
    # nodule: 0.95 FP ranks above the 0.9 TP -> AP 0.5; effusion: one TP -> 1
    assert out['per_class']['nodule']['ap_40'] == pytest.approx(0.5)
    assert out['per_class']['effusion']['ap_40'] == pytest.approx(1.0)
    assert out['map_40'] == pytest.approx(0.75)


@pytest.mark.slow
def test_no_finding_flags(tmp_path):
    stdout, _, _ = run(tmp_path, '--json', '--no-finding', '--no-finding-class', '14')
    out = json.loads(stdout.strip().splitlines()[-1])
    # image 3 has no gt: one "No finding" gt; predictions 1-0.9, 1-0.95, 1-0.2 ->
    # the TP (image 3, 0.8) ranks first: AP 1
    assert out['per_class']['No finding']['ap_40'] == pytest.approx(1.0)
    assert out['map_40'] == pytest.approx((0.5 + 1.0 + 1.0) / 3)


@pytest.mark.slow
def test_help():
    proc = subprocess.run([sys.executable, 'tools/analysis/eval_results.py', '--help'],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and '--no-finding' in proc.stdout
