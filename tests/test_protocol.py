"""The protocol runner end to end at a tiny scale (every arm, one seed)."""
import csv
import os.path as osp
import subprocess
import sys

from conftest import REPO


def test_protocol_tiny_end_to_end(tmp_path):
    work = tmp_path / 'work'
    proc = subprocess.run(
        [sys.executable, 'tools/run_protocol.py', '--scale', 'tiny', '--data-root',
         str(tmp_path / 'data'), '--work-dir', str(work)],
        cwd=REPO, capture_output=True, text=True, timeout=1200)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-5000:]
    rows = [r for r in csv.DictReader(open(work / 'results.csv')) if r['seed'] != 'all']
    arms = [r['arm'] for r in rows]
    assert arms == ['truth', 'baseline', 'wbf_earl', 'reliability_wbf_earl', 'allboxes_earl',
                    'soft_wbf_earl', 'dawid_skene_earl', 'presence_earl', 'calibrated_earl',
                    'reader_model_earl',
                    'single_reader_R1',
                    'single_reader_R2', 'single_reader_R3', 'readers_ensemble']
    for r in rows:
        assert 0.0 <= float(r['map_40']) <= 1.0 and 0.0 <= float(r['map_50_95']) <= 1.0
        # mAP@0.4 counts every match mAP[.5:.95] counts, at a lower threshold
        assert float(r['map_40']) >= float(r['map_50_95']) - 1e-9
    # the run's wall time per stage, printed at the end and kept in timings.json
    assert 'wall time per stage' in proc.stdout and osp.isfile(work / 'timings.json')
    assert 'paired bootstrap + final report' in proc.stdout
    trained = {r['arm']: r['train_seconds'] for r in rows}
    assert all(float(trained[a]) > 0 for a in arms if a != 'readers_ensemble')
    md = open(work / 'results.md').read()
    assert '| readers_ensemble | 1 |' in md and 'mAP@0.4' in md
    assert osp.getsize(work / 'results.png') > 5000
    assert osp.getsize(work / 'learning_curves.png') > 5000
    # one seed: every arm compared with the baseline by a paired bootstrap
    assert 'paired bootstrap over test images' in md and 'Gap recovered' in md
    summary = {r['arm']: r for r in csv.DictReader(open(work / 'results.csv'))
               if r['seed'] == 'all'}
    assert summary['wbf_earl']['map_40_verdict'] in ('better', 'worse', 'not distinguishable')
    # the live progress line reported epochs and validations
    assert '[progress' in proc.stdout and 'seed 0 wbf_earl | epoch 1/1' in proc.stdout
    # every trained arm left the config it ran, for reproducing it by hand
    assert osp.isfile(work / 'seed0' / 'wbf_earl' / 'wbf_earl.py')
    assert osp.isfile(work / 'seed0' / 'readers_ensemble' / 'predictions.json')
    # run again: every arm's predictions are reused, since its config is unchanged
    again = subprocess.run(
        [sys.executable, 'tools/run_protocol.py', '--scale', 'tiny', '--data-root',
         str(tmp_path / 'data'), '--work-dir', str(work), '--arms', 'baseline', 'wbf_earl'],
        cwd=REPO, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, (again.stdout + again.stderr)[-5000:]
    assert 'seed 0 wbf_earl: reusing' in again.stdout and 'training (' not in again.stdout
    # ... and report the arms' training times, not the seconds the reuse took
    rerun = {r['arm']: r['train_seconds'] for r in csv.DictReader(open(work / 'results.csv'))
             if r['seed'] != 'all'}
    assert rerun == {a: trained[a] for a in ('baseline', 'wbf_earl')}
    # ... but not after a change of recipe: the arm is named with the changed key
    changed = subprocess.run(
        [sys.executable, 'tools/run_protocol.py', '--scale', 'tiny', '--data-root',
         str(tmp_path / 'data'), '--work-dir', str(work), '--arms', 'baseline',
         '--cfg-options', 'train_cfg.max_epochs=2'],
        cwd=REPO, capture_output=True, text=True, timeout=600)
    assert changed.returncode != 0
    assert 'train_cfg.max_epochs: 1 -> 2' in changed.stdout + changed.stderr
