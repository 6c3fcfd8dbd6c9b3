"""The GPU scale (configs/protocol/paper.py) at a reduced size on the CPU: its
loaders (8 persistent workers, images decoded into shared memory), batch 64,
auto_scale_lr and YOLOv5-S at 640 px run end to end; AMP is left to CUDA."""
import csv
import subprocess
import sys

from conftest import REPO


def test_paper_scale_reduced_on_cpu(tmp_path):
    scale = tmp_path / 'paper_reduced.py'
    scale.write_text(
        f"_base_ = '{REPO}/configs/protocol/paper.py'\n"
        "data = dict(num_train=6, num_val=2, num_test=3, img_size=640, seed=0, progress=False)\n"
        "arms = ['baseline', 'wbf_earl']\n"
        "seeds = [0]\n"
        "max_epochs = 1\n"
        "train_cfg = dict(max_epochs=1, val_interval=1)\n"
        "param_scheduler = [dict(type='OneCycleLR', eta_max=3e-3, pct_start=0.1,\n"
        "    anneal_strategy='cos', by_epoch=True, convert_to_iter_based=True,\n"
        "    begin=0, end=1, total_steps=1)]\n"
        "default_hooks = dict(checkpoint=dict(interval=1))\n")
    work = tmp_path / 'work'
    proc = subprocess.run(
        [sys.executable, 'tools/run_protocol.py', '--scale', str(scale), '--data-root',
         str(tmp_path / 'data'), '--work-dir', str(work)],
        cwd=REPO, capture_output=True, text=True, timeout=1500)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-5000:]
    log = open(work / 'seed0' / 'wbf_earl' / 'train.log').read()
    assert 'images decoded into memory' in log
    assert 'num_workers=8' in log and 'cache_images=True' in log
    # auto_scale_lr: batch 64 on one process is the base batch (ratio 1)
    assert 'LR is set based on batch size of 64' in log and 'original LR by 1.0' in log
    # no AMP without CUDA
    assert 'AmpOptimWrapper' not in log
    rows = [r for r in csv.DictReader(open(work / 'results.csv')) if r['seed'] != 'all']
    assert [r['arm'] for r in rows] == ['baseline', 'wbf_earl']
