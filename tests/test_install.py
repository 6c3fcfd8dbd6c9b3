"""A plain (non-editable) install runs the shipped configs from any directory.

The package is built from a copy of the files setup.py needs into a fresh
virtualenv (that sees the test environment's torch, mmcv, mmdet: no network), and the
tiny protocol runs from an empty folder, so nothing can come from the checkout.
"""
import csv
import os
import shutil
import subprocess
import sys

from conftest import REPO

SOURCES = ('setup.py', 'README.md', 'LICENSE', 'mmmulti', 'configs')


def run(cmd, **kw):
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900, **kw)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-5000:]
    return proc.stdout


def test_non_editable_install_runs_the_tiny_protocol(tmp_path):
    src = tmp_path / 'src'
    for name in SOURCES:
        path = os.path.join(REPO, name)
        if os.path.isdir(path):
            shutil.copytree(path, src / name,
                            ignore=shutil.ignore_patterns('__pycache__', '*.pyc', '.mim'))
        else:
            src.mkdir(exist_ok=True)
            shutil.copy(path, src / name)
    venv = tmp_path / 'venv'
    run([sys.executable, '-m', 'venv', str(venv)])
    py = str(venv / 'bin' / 'python')
    # torch, mmcv, mmdet (and wheel, to build) from the environment running the tests,
    # a virtualenv or not: its site-packages go after the new venv's own, and their .pth
    # files (an editable mmmulti among them) are not read
    outer = [p for p in sys.path if p.endswith('site-packages') and os.path.isdir(p)]
    inner = run([py, '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])']).strip()
    with open(os.path.join(inner, '_outer_site_packages.pth'), 'w') as f:
        f.write('\n'.join(outer) + '\n')
    run([py, '-m', 'pip', 'install', '--no-deps', '--no-build-isolation', '--no-index',
         '-q', str(src)])
    shutil.rmtree(src)  # nothing may come from the source copy either

    elsewhere = tmp_path / 'elsewhere'
    elsewhere.mkdir()
    where = run([py, '-c', 'import mmmulti, mmmulti.apis as a; '
                 'print(mmmulti.__file__); print(a.configs_root())'],
                cwd=elsewhere).split()
    assert where[0].startswith(str(venv)) and where[1].endswith(
        os.path.join('mmmulti', '.mim', 'configs'))

    out = run([py, '-m', 'mmmulti.protocol', '--scale', 'tiny', '--arms', 'baseline',
               'wbf_earl', '--data-root', 'data/tiny', '--work-dir', 'work'], cwd=elsewhere)
    assert 'wbf_earl' in out
    rows = [r for r in csv.DictReader(open(elsewhere / 'work' / 'results.csv'))
            if r['seed'] != 'all']
    assert [r['arm'] for r in rows] == ['baseline', 'wbf_earl']
    # the arms ran the installed entry points, with the installed configs
    cfg = open(elsewhere / 'work' / 'seed0' / 'wbf_earl' / 'wbf_earl.py').read()
    assert "type='EARL'" in cfg
    assert os.path.isfile(venv / 'bin' / 'mmmulti-train')
