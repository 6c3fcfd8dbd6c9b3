"""benchmarks/gpu_paper_pair.sh --dry-run: the GPU pair's script, every stage, on a few
CPU images, so it cannot rot between the sessions that have a GPU."""
import json
import subprocess

from conftest import REPO


def test_gpu_paper_pair_dry_run(tmp_path):
    out = tmp_path / 'pair'
    proc = subprocess.run(['bash', 'benchmarks/gpu_paper_pair.sh', '--dry-run', '--out',
                           str(out)], cwd=REPO, capture_output=True, text=True, timeout=1500)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-5000:]
    for stage in ('data ready in', 'both arms trained and tested in', 'report in'):
        assert f'[pair] {stage}' in proc.stdout, log[-3000:]
    record = out / 'record'
    run = json.loads((record / 'run.json').read_text())
    assert run['command'] == f'bash benchmarks/gpu_paper_pair.sh --dry-run --out {out}'
    assert run['device'] == 'CPU (dry run)'
    assert run['scale'].endswith('paper_pair_dry_run.py')
    st = run['stage_seconds']
    assert st['total'] == st['data'] + st['train_and_test_both_arms'] + st['report'] >= 0
    md = (record / 'results.md').read_text()
    assert '| baseline | 1 |' in md and '| wbf_earl | 1 |' in md
    assert (record / 'results.csv').stat().st_size > 0
    # the two arms trained side by side, each in its own log, with the GPU pair's model
    for arm in ('baseline', 'wbf_earl'):
        cfg = (out / 'seed0' / arm / f'{arm}.py').read_text()
        assert 'train_cfg = dict(max_epochs=1,' in cfg
        assert 'widen_factor=0.5' in cfg  # YOLOv5-S, as on the GPU
        assert (out / f'{arm}.log').is_file()


def test_gpu_paper_pair_refuses_unknown_flags():
    proc = subprocess.run(['bash', 'benchmarks/gpu_paper_pair.sh', '--epochs', '3'],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert 'unknown argument --epochs' in proc.stderr
