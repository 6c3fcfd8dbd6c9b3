"""tools/analysis/results_table.py: the results tables come from the results.csv files.

The committed docs/results/README.md and the README's marked blocks must be what the
command writes (``--check``), and the generator is checked on a hand-made folder.
"""
import csv
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats

from conftest import REPO
from mmmulti.protocol.report import compare, read_results
from mmmulti.protocol.results_table import (QUICK_END, QUICK_START, README_END,
                                            README_START, render, stale)

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
TOOL = osp.join(ROOT, 'tools', 'analysis', 'results_table.py')
FIELDS = ['arm', 'seed', 'map_40', 'map_50_95', 'train_seconds', 'map_40_diff', 'map_40_low',
          'map_40_high', 'map_40_verdict', 'map_50_95_diff', 'map_50_95_low',
          'map_50_95_high', 'map_50_95_verdict', 'interval']


def run_tool(*args, cwd=ROOT):
    return subprocess.run([sys.executable, TOOL, *args], cwd=cwd, capture_output=True,
                          text=True)


def test_committed_tables_are_what_the_command_writes():
    """README.md and docs/results/README.md hold what the command prints from the csv."""
    out = run_tool('docs/results', '--write-readme', 'README.md', '--check')
    assert out.returncode == 0, out.stdout + out.stderr


def test_recomputed_intervals_equal_the_protocols():
    """Every multi-seed interval the tables show (recomputed from the per-seed rows)
    equals the one the protocol wrote into the csv's seed=all rows."""
    checked = 0
    for folder in sorted(os.listdir(osp.join(ROOT, 'docs', 'results'))):
        path = osp.join(ROOT, 'docs', 'results', folder, 'results.csv')
        if not osp.isfile(path):
            continue
        rows = read_results(path)
        if len({r['seed'] for r in rows}) < 2:
            continue
        cmp = compare(rows)
        with open(path, newline='') as f:
            stored = {r['arm']: r for r in csv.DictReader(f)
                      if r['seed'] == 'all' and r['interval'].startswith('paired t')}
        for arm, row in stored.items():
            for key in ('map_40', 'map_50_95'):
                for s in ('diff', 'low', 'high'):
                    assert cmp[arm][key][s] == pytest.approx(float(row[f'{key}_{s}']),
                                                             abs=2e-6), (folder, arm, key, s)
                checked += 1
    assert checked > 0


def write_folder(root, name, title, rows):
    os.makedirs(osp.join(root, name))
    with open(osp.join(root, name, 'results.md'), 'w') as f:
        f.write(f'# {title}\n\n(table)\n')
    with open(osp.join(root, name, 'results.csv'), 'w', newline='') as f:
        w = csv.DictWriter(f, fieldnames=FIELDS, extrasaction='ignore')
        w.writeheader()
        for r in rows:
            w.writerow(r)


@pytest.fixture
def results(tmp_path):
    root = str(tmp_path / 'results')
    base = [0.90, 0.92, 0.91]
    earl = [0.93, 0.96, 0.92]
    rows = []
    for seed in range(3):
        rows.append(dict(arm='baseline', seed=seed, map_40=base[seed], map_50_95=0.5,
                         train_seconds='' if seed == 1 else f'{300 + seed}.5'))
        rows.append(dict(arm='wbf_earl', seed=seed, map_40=earl[seed],
                         map_50_95=0.6 + 0.01 * seed, train_seconds='310.0'))
    write_folder(root, 'mini_run', 'med_mnist / mini / yolo: 3 seed(s)', rows)
    one = [dict(arm='baseline', seed=0, map_40=0.8, map_50_95=0.5, train_seconds='200.0'),
           dict(arm='wbf_earl', seed=0, map_40=0.85, map_50_95=0.55, train_seconds='210.0'),
           dict(arm='baseline', seed='all', map_40=0.8, map_50_95=0.5),
           dict(arm='wbf_earl', seed='all', map_40=0.85, map_50_95=0.55,
                map_40_diff=0.05, map_40_low=0.01, map_40_high=0.09, map_40_verdict='better',
                map_50_95_diff=0.05, map_50_95_low=-0.02, map_50_95_high=0.1,
                map_50_95_verdict='not distinguishable',
                interval='paired bootstrap over test images')]
    write_folder(root, 'quick_run', 'med_mnist / quick / efficientdet_d3: 1 seed(s)', one)
    readme = str(tmp_path / 'README.md')
    with open(readme, 'w') as f:
        f.write(f'# top\n\n{README_START}\nold table\n{README_END}\n\nmiddle\n\n'
                f'{QUICK_START}\nold quick\n{QUICK_END}\nend\n')
    return root, readme, base, earl


def test_tables_from_a_hand_made_folder(results):
    root, readme, base, earl = results
    with pytest.raises(FileNotFoundError, match='med_mnist_quick'):
        render(root, readme)  # the quick-start block names a folder this root lacks
    os.rename(osp.join(root, 'quick_run'), osp.join(root, 'med_mnist_quick'))
    files = render(root, readme)
    page = files[osp.join(root, 'README.md')]
    d = np.subtract(earl, base)
    half = stats.t.ppf(0.975, 2) * d.std(ddof=1) / np.sqrt(3)
    want = f'{d.mean():+.3f} [{d.mean() - half:+.3f}, {d.mean() + half:+.3f}]'
    mini = next(line for line in page.splitlines()
                if line.startswith('| wbf_earl | `configs/earl_yolo.py` | 0 1 2'))
    assert f'{np.mean(earl):.3f} ± {np.std(earl, ddof=1):.3f}' in mini
    assert want in mini and 'paired t over 3 seeds' in page
    assert mini.endswith('| 310.0 / 310.0 / 310.0 |')
    assert '| 300.5 | - | 302.5 |' in page.replace(' / ', ' | ')  # unknown: a dash
    # mini's default seeds are 0 1 2, its default arms are four: the command names the arms
    assert 'python tools/run_protocol.py --scale mini --arms baseline wbf_earl\n' in page
    # the one-seed folder: the protocol's bootstrap interval, the detector in the command
    assert '+0.050 [+0.010, +0.090] better' in page
    assert '+0.050 [-0.020, +0.100] not distinguishable' in page
    assert 'python tools/run_protocol.py --scale quick --detector efficientdet_d3\n' in page
    assert '`configs/baseline_efficientdet_d3.py`' in page
    top = files[readme]
    assert 'old table' not in top and 'old quick' not in top
    assert top.startswith('# top\n\n' + README_START + '\n### med_mnist · mini · yolo')
    assert '| wbf_earl | 1 | 0.850 | 0.550 | +0.050 [+0.010, +0.090] better |' in top
    assert top.endswith(QUICK_END + '\nend\n') and 'middle' in top


def test_check_and_write(results):
    root, readme, _, _ = results
    os.rename(osp.join(root, 'quick_run'), osp.join(root, 'med_mnist_quick'))
    out = run_tool(root, '--write-readme', readme, '--check')
    assert out.returncode == 1 and 'README.md: not what' in out.stdout
    assert 'old table' in open(readme).read()  # --check writes nothing
    out = run_tool(root, '--write-readme', readme)
    assert out.returncode == 0, out.stderr
    assert stale(render(root, readme)) == []
    assert run_tool(root, '--write-readme', readme, '--check').returncode == 0
    # a csv edited after the tables were written makes --check fail
    path = osp.join(root, 'mini_run', 'results.csv')
    text = open(path).read().replace('0.93,', '0.95,', 1)
    open(path, 'w').write(text)
    assert run_tool(root, '--check').returncode == 1


def test_bad_folders_are_named(results, tmp_path):
    root, readme, _, _ = results
    with open(readme, 'w') as f:
        f.write('no markers\n')
    out = run_tool(root, '--write-readme', readme)
    assert out.returncode == 2 and 'no <!-- results-table:start -->' in out.stderr
    assert open(readme).read() == 'no markers\n'
    with open(osp.join(root, 'mini_run', 'results.md'), 'w') as f:
        f.write('# merged protocol runs\n')
    out = run_tool(root)
    assert out.returncode == 2
    assert 'mini_run/results.md' in out.stderr and '<dataset> / <scale>' in out.stderr
    empty = str(tmp_path / 'empty')
    os.makedirs(empty)
    out = run_tool(empty)
    assert out.returncode == 2 and 'no */results.csv' in out.stderr


def test_no_committed_training_time_is_a_reuse_time():
    """A trained arm's train_seconds is its training, read from its run, or blank
    when unknown: never the seconds a reuse of its predictions took (issue 27)."""
    import glob
    for path in glob.glob(os.path.join(REPO, 'docs', 'results', '**', 'results.csv'),
                          recursive=True):
        for row in csv.DictReader(open(path)):
            t = row.get('train_seconds')
            if row['seed'] == 'all' or not t or row['arm'] == 'readers_ensemble':
                continue
            assert float(t) >= 5, (path, row['arm'], row['seed'], t)


def test_arm_config_names_an_arm_s_earl_override():
    """An arm that changes only EARL's options names them beside its config, so two rows
    of one config are told apart in the tables."""
    from mmmulti.protocol.results_table import arm_config
    configs = osp.join(REPO, 'configs')
    readers = ['R1', 'R2', 'R3']
    assert arm_config('wbf_earl', 'efficientdet_d3', configs, readers) == \
        '`configs/earl_efficientdet_d3.py`'
    assert arm_config('wbf_earl_mean', 'efficientdet_d3', configs, readers) == \
        "`configs/earl_efficientdet_d3.py` + `earl.normalize='mean'`"
    assert arm_config('reliability_wbf_earl', 'yolo', configs, readers).endswith(
        '+ `ReliabilityWBF` fusion')
