"""tools/analysis/compare_arms.py: any arm as the reference, paired intervals."""
import subprocess
import sys

from conftest import REPO, write_protocol_results

def run(*args):
    return subprocess.run([sys.executable, 'tools/analysis/compare_arms.py', *map(str, args)],
                          cwd=REPO, capture_output=True, text=True, timeout=120)


def test_paired_t_against_any_arm(tmp_path):
    rows = []
    for seed, noise in enumerate((0.0, 0.004, -0.003)):
        rows += [('baseline', seed, 0.90 + noise, 0.60 + noise, 1),
                 ('wbf_earl', seed, 0.95 + noise, 0.70 + noise, 1),
                 ('soft_wbf_earl', seed, 0.97 + noise, 0.70 + 2 * noise, 1)]
    proc = run(write_protocol_results(tmp_path, rows), '--reference', 'wbf_earl')
    assert proc.returncode == 0, proc.stderr
    lines = {ln.split('|')[1].strip(): ln for ln in proc.stdout.splitlines()[2:]}
    assert set(lines) == {'baseline', 'soft_wbf_earl'}
    assert 'vs wbf_earl' in proc.stdout and 'paired t over 3 seeds' in lines['soft_wbf_earl']
    # +0.020 every seed at mAP@0.4: better; mAP[.5:.95] differs by ±noise: not distinguishable
    assert '+0.020 [+0.020, +0.020] better' in lines['soft_wbf_earl']
    assert 'not distinguishable' in lines['soft_wbf_earl']
    assert lines['baseline'].count('worse') == 2


def test_unknown_reference_and_missing_run_are_clear_errors(tmp_path):
    proc = run(write_protocol_results(tmp_path, [('baseline', 0, 0.9, 0.6, 1)]), '--reference', 'nope')
    assert proc.returncode == 2 and "arm 'nope' is not in" in proc.stderr
    proc = run(tmp_path / 'missing')
    assert proc.returncode == 2 and 'no results.csv' in proc.stderr
