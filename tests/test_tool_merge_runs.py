"""tools/analysis/merge_runs.py: runs trained apart become one paired report."""
import csv
import subprocess
import sys

from conftest import REPO, write_protocol_results

def run(*args):
    return subprocess.run([sys.executable, 'tools/analysis/merge_runs.py', *map(str, args)],
                          cwd=REPO, capture_output=True, text=True, timeout=120)


def read_all_rows(path):
    with open(path, newline='') as f:
        return {r['arm']: r for r in csv.DictReader(f) if r['seed'] == 'all'}


def test_merged_arms_are_paired_with_the_first_runs_baseline(tmp_path):
    first, second = [], []
    for seed, noise in enumerate((0.0, 0.004, -0.003)):
        first += [('truth', seed, 0.99, 0.80, 1), ('baseline', seed, 0.90 + noise, 0.60 + noise, 1)]
        # the later run trained only the new arm, and the truth arm again (same numbers)
        second += [('truth', seed, 0.99, 0.80, 1),
                   ('new_arm', seed, 0.93 + noise, 0.70 + 2 * noise, 1)]
    a = write_protocol_results(tmp_path / 'a', first)
    b = write_protocol_results(tmp_path / 'b', second)
    out = tmp_path / 'merged'
    proc = run(a, b / 'results.csv', '--out', out, '--title', 'merged')
    assert proc.returncode == 0, proc.stderr
    assert "arms ['baseline', 'new_arm', 'truth'], seeds [0, 1, 2]" in proc.stdout
    summary = read_all_rows(out / 'results.csv')
    new = summary['new_arm']
    assert new['interval'] == 'paired t over 3 seeds'
    assert abs(float(new['map_40_diff']) - 0.03) < 1e-6 and new['map_40_verdict'] == 'better'
    assert new['map_50_95_verdict'] == 'better'
    # gap recovered on the means over seeds: 0.03 / (0.99 - mean baseline)
    baseline = 0.90 + 0.001 / 3
    assert abs(float(new['map_40_gap_recovered']) - 0.03 / (0.99 - baseline)) < 1e-3
    assert (out / 'results.md').is_file() and (out / 'results.png').is_file()
    # the truth arm is kept once
    with open(out / 'results.csv', newline='') as f:
        assert sum(1 for r in csv.DictReader(f) if r['arm'] == 'truth' and r['seed'] != 'all') == 3


def test_the_same_arm_and_seed_with_other_numbers_is_refused(tmp_path):
    a = write_protocol_results(tmp_path / 'a', [('baseline', 0, 0.90, 0.60, 1)])
    b = write_protocol_results(tmp_path / 'b', [('baseline', 0, 0.91, 0.60, 1)])
    proc = run(a, b, '--out', tmp_path / 'merged')
    assert proc.returncode == 2
    assert "arm 'baseline' seed 0 differs between" in proc.stderr and str(b) in proc.stderr
    assert not (tmp_path / 'merged' / 'results.csv').exists()


def test_bad_rows_and_missing_runs_are_clear_errors(tmp_path):
    bad = tmp_path / 'bad'
    bad.mkdir()
    (bad / 'results.csv').write_text('arm,seed,map_40,map_50_95\nbaseline,0,oops,0.6\n')
    proc = run(bad, '--out', tmp_path / 'merged')
    assert proc.returncode == 2 and 'results.csv, line 2: not a protocol result row' in proc.stderr
    proc = run(tmp_path / 'missing', '--out', tmp_path / 'merged')
    assert proc.returncode == 2 and 'no results.csv' in proc.stderr
