"""tools/analysis/count_params.py, run as docs/guide_training.md shows."""
import os.path as osp
import subprocess
import sys

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
TOOL = osp.join(ROOT, 'tools', 'analysis', 'count_params.py')


def run(*args):
    return subprocess.run([sys.executable, TOOL, *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


def test_count_params_table():
    proc = run('--models', 'yolov5_s', 'efficientdet_d0')
    assert proc.returncode == 0, proc.stderr
    rows = {line.split('|')[1].strip(): [c.strip() for c in line.split('|')[1:-1]]
            for line in proc.stdout.splitlines() if line.startswith('| yolov5')
            or line.startswith('| efficientdet')}
    assert rows['yolov5_s'][1:3] == ['80', '7,235,389']
    assert rows['yolov5_s'][4] == '7.2'
    assert rows['efficientdet_d0'][1] == '90'
    d0 = int(rows['efficientdet_d0'][2].replace(',', ''))
    assert abs(d0 / 1e6 - 3.9) / 3.9 < 0.02


def test_count_params_other_num_classes():
    proc = run('--models', 'yolov5_n', '--num-classes', '14')
    assert proc.returncode == 0, proc.stderr
    row = [line for line in proc.stdout.splitlines() if line.startswith('| yolov5_n')][0]
    cells = [c.strip() for c in row.split('|')[1:-1]]
    # 14 classes: 3 levels x 3 anchors x (80 - 14) outputs fewer, each with (C_in + 1) params
    n80 = 1_872_157
    fewer = 3 * (80 - 14) * ((64 + 1) + (128 + 1) + (256 + 1))
    assert cells[1] == '14' and int(cells[2].replace(',', '')) == n80 - fewer
    assert cells[4] == '-'


def test_count_params_unknown_model_is_reported():
    proc = run('--models', 'yolov5_s', 'no_such_model')
    assert proc.returncode != 0 and 'no_such_model' in proc.stderr
