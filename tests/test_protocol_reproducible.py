"""What the README promises about re-runs: the same machine and torch build give an
identical table. Two independent tiny runs (each generating its own data) must agree
on every figure except the measured times, with the arms trained side by side as the
quick start trains them (``parallel_arms``)."""
import csv
import os.path as osp
import subprocess
import sys

from conftest import REPO

#: columns that measure this run's machine time, not its results
TIMING_COLUMNS = {'train_seconds'}


def _run(tmp_path, name: str):
    work = tmp_path / name
    scale = tmp_path / 'tiny_parallel.py'
    scale.write_text(f"_base_ = {osp.join(REPO, 'configs', 'protocol', 'tiny.py')!r}\nparallel_arms = 2\n")
    proc = subprocess.run(
        [sys.executable, 'tools/run_protocol.py', '--scale', str(scale), '--arms', 'baseline',
         'wbf_earl', '--data-root', str(tmp_path / f'{name}_data'), '--work-dir', str(work)],
        cwd=REPO, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-5000:]
    assert '2 at a time' in proc.stdout  # the arms trained side by side
    # ... and the stage table shows each arm's training and test under that stage
    for part in ('seed 0 baseline: train (side by side)', 'seed 0 wbf_earl: test (side by side)'):
        assert part in proc.stdout, proc.stdout[-3000:]
    with open(work / 'results.csv') as f:
        rows = [{k: v for k, v in r.items() if k not in TIMING_COLUMNS}
                for r in csv.DictReader(f)]
    return rows


def test_two_tiny_runs_give_identical_tables(tmp_path):
    first = _run(tmp_path, 'a')
    second = _run(tmp_path, 'b')
    assert [r['arm'] for r in first if r['seed'] != 'all'] == ['baseline', 'wbf_earl']
    # every score, spread and interval, to the last digit written
    assert first == second
