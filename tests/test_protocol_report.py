"""The protocol's statistics (paired differences, intervals, verdicts, gap
recovered), its tables, learning curves and the live progress line."""
import csv
import io
import json

import numpy as np
import pytest
from scipy import stats

from mmmulti.protocol.progress import TrainProgress
from mmmulti.protocol.report import (compare, markdown_table, read_val_curve, verdict,
                                     write_reports)


def _rows(values):
    return [dict(arm=arm, seed=s, map_40=v[0], map_50_95=v[1], train_seconds=1.0)
            for arm, per_seed in values.items() for s, v in enumerate(per_seed)]


ROWS = _rows({
    'truth': [(0.98, 0.80), (0.97, 0.79), (0.99, 0.81)],
    'baseline': [(0.90, 0.60), (0.88, 0.62), (0.91, 0.61)],
    'wbf_earl': [(0.94, 0.70), (0.93, 0.71), (0.95, 0.69)],  # clearly better
    'noisy': [(0.95, 0.55), (0.85, 0.66), (0.92, 0.62)],     # not distinguishable
})


def test_verdict_follows_the_interval_only():
    assert verdict(0.001, 0.2) == 'better'
    assert verdict(-0.3, -0.01) == 'worse'
    assert verdict(-0.01, 0.5) == 'not distinguishable'
    assert verdict(-0.5, 0.01) == 'not distinguishable'


def test_paired_t_interval_by_hand():
    c = compare(ROWS)
    d = np.array([0.94 - 0.90, 0.93 - 0.88, 0.95 - 0.91])
    half = stats.t.ppf(0.975, 2) * d.std(ddof=1) / np.sqrt(3)
    got = c['wbf_earl']['map_40']
    assert got['diff'] == pytest.approx(d.mean())
    assert got['low'] == pytest.approx(d.mean() - half)
    assert got['high'] == pytest.approx(d.mean() + half)
    assert got['verdict'] == 'better' and 'paired t over 3 seeds' == got['method']
    assert c['noisy']['map_40']['verdict'] == 'not distinguishable'
    assert c['noisy']['map_50_95']['verdict'] == 'not distinguishable'
    assert 'baseline' not in c


def test_gap_recovered():
    c = compare(ROWS)
    base, truth, earl = np.mean([.90, .88, .91]), np.mean([.98, .97, .99]), np.mean([.94, .93, .95])
    assert c['wbf_earl']['gap_recovered']['map_40'] == pytest.approx((earl - base) / (truth - base))
    assert 'gap_recovered' not in c['truth']


def test_one_seed_uses_the_bootstrap():
    rows = [r for r in ROWS if r['seed'] == 0]
    boot = {'wbf_earl': {'map_40': dict(diff=0.04, low=-0.01, high=0.08),
                         'map_50_95': dict(diff=0.1, low=0.05, high=0.15)}}
    c = compare(rows, boot)
    assert c['wbf_earl']['map_40']['verdict'] == 'not distinguishable'
    assert c['wbf_earl']['map_50_95']['verdict'] == 'better'
    assert c['wbf_earl']['map_40']['method'] == 'paired bootstrap over test images'
    # no bootstrap and one seed: a difference, but no verdict is claimed
    assert compare(rows)['noisy']['map_40']['verdict'] == 'no interval'


def test_reports_and_learning_curves(tmp_path):
    run = tmp_path / 'seed0' / 'baseline' / '20260101_000000' / 'vis_data'
    run.mkdir(parents=True)
    with open(run / 'scalars.json', 'w') as f:
        f.write(json.dumps(dict(loss=1.0, step=10)) + '\n')
        for e, m in ((5, 0.5), (10, 0.8)):
            f.write(json.dumps({'coco/map_40': m, 'coco/map_50_95': m / 2, 'step': e}) + '\n')
        f.write('{"coco/map_40": 0.9, "st')  # a line cut by a killed run
    curve = read_val_curve(str(tmp_path / 'seed0' / 'baseline'))
    assert curve['epoch'] == [5, 10] and curve['map_40'] == [0.5, 0.8]
    paths = write_reports(ROWS, str(tmp_path), 'title',
                          curves={'baseline': {0: curve}, 'wbf_earl': {0: curve}})
    md = open(paths['md']).read()
    assert '| wbf_earl | 3 | 0.940 ± 0.010 |' in md and 'better' in md
    assert 'not distinguishable' in md and 'Gap recovered' in md
    rows = list(csv.DictReader(open(paths['csv'])))
    summary = {r['arm']: r for r in rows if r['seed'] == 'all'}
    assert summary['wbf_earl']['map_40_verdict'] == 'better'
    assert float(summary['wbf_earl']['map_40_low']) > 0
    assert summary['baseline']['map_40_verdict'] == ''
    assert len(rows) == len(ROWS) + 4
    for key in ('png', 'curves'):
        assert open(paths[key], 'rb').read(8) == b'\x89PNG\r\n\x1a\n'


def test_progress_line():
    out = io.StringIO()
    p = TrainProgress('seed 0 baseline', max_epochs=30, stream=out, interval=0)
    p.feed('11/28 12:05:17 - mmengine - INFO - Epoch(train)  [4][10/50]  base_lr: 2.9e-03 '
           'lr: 2.9e-03  eta: 0:09:46  time: 0.2079  loss: 3.38\n')
    p.feed('some other line\n')
    p.feed('11/28 12:05:34 - mmengine - INFO - Epoch(val) [5][5/5]    coco/map_40: 0.8123  '
           'coco/map_50_95: 0.4054  coco/bbox_mAP: 0.4054\n')
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert 'seed 0 baseline | epoch 4/30 iter 10/50 | ETA 0:09:46' in lines[0]
    assert 'val mAP@0.4 0.812 / mAP[.5:.95] 0.405 (epoch 5)' in lines[1]
