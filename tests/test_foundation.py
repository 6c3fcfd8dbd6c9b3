"""The ground everything stands on: registries, tools, checkpoints, launch."""
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

from conftest import REPO, data_root_options

CONFIG = 'configs/tiny/retinanet_tiny_med_mnist.py'


def run_tool(args, check=True, env=None):
    full_env = dict(os.environ, PYTHONPATH=REPO, **(env or {}))
    proc = subprocess.run(args, cwd=REPO, capture_output=True, text=True, env=full_env,
                          timeout=600)
    out = proc.stdout + proc.stderr
    if check and proc.returncode != 0:
        raise AssertionError(f'{args} failed ({proc.returncode}):\n{out[-4000:]}')
    return proc.returncode, out


def data_opts(root):
    return ['--cfg-options', *data_root_options(root)]


@pytest.fixture(scope='module')
def trained(tiny_med_mnist, tmp_path_factory):
    work = str(tmp_path_factory.mktemp('work'))
    run_tool([sys.executable, 'tools/train.py', CONFIG, '--work-dir', work,
              *data_opts(tiny_med_mnist)])
    return work


def test_registry_scope():
    import mmdet.registry
    import mmmulti  # noqa: F401
    from mmmulti import registry
    assert registry.MODELS.scope == 'mmmulti'
    assert registry.MODELS.parent is mmdet.registry.MODELS
    assert registry.DATASETS.parent is mmdet.registry.DATASETS
    assert registry.FUSION_METHODS.scope == 'mmmulti'
    # With the mmmulti default scope, mmdet components build through our registry.
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('mmmulti'):
        loss = registry.MODELS.build(dict(type='FocalLoss'))
    assert type(loss).__name__ == 'FocalLoss'


def test_train_writes_checkpoint(trained):
    assert osp.isfile(osp.join(trained, 'iter_2.pth'))
    ckpt = torch.load(osp.join(trained, 'iter_2.pth'), weights_only=False)
    assert ckpt['meta']['iter'] == 2


def test_test_tool_prints_coco_metrics(trained, tiny_med_mnist, tmp_path):
    out_pkl = str(tmp_path / 'preds.pkl')
    _, out = run_tool([sys.executable, 'tools/test.py', CONFIG,
                       osp.join(trained, 'iter_2.pth'), '--work-dir', str(tmp_path),
                       '--out', out_pkl, *data_opts(tiny_med_mnist)])
    # both of the paper's metrics, plus mmdet's usual COCO keys
    assert 'coco/map_40' in out and 'coco/map_50_95' in out
    assert 'coco/bbox_mAP' in out and 'coco/bbox_mAP_50' in out
    assert osp.isfile(out_pkl)


def test_resume_continues_at_right_iteration(trained, tiny_med_mnist, tmp_path):
    import shutil
    work = str(tmp_path / 'resume')
    shutil.copytree(trained, work)
    _, out = run_tool([sys.executable, 'tools/train.py', CONFIG, '--work-dir', work,
                       '--resume', *data_opts(tiny_med_mnist), 'train_cfg.max_iters=3'])
    assert 'resumed epoch: 0, iter: 2' in out
    assert 'Iter(train) [3/3]' in out
    assert 'Iter(train) [1/3]' not in out
    assert osp.isfile(osp.join(work, 'iter_3.pth'))


def test_dist_train_two_cpu_processes(tiny_med_mnist, tmp_path):
    _, out = run_tool(['bash', 'tools/dist_train.sh', CONFIG, '2', '--work-dir',
                       str(tmp_path), *data_opts(tiny_med_mnist)],
                      env={'PORT': '29613'})
    assert 'Distributed training: True' in out
    assert 'Iter(train) [2/2]' in out
    assert osp.isfile(osp.join(tmp_path, 'iter_2.pth'))


class Stranger:
    """A class no checkpoint allowlist knows."""


def test_allowlist_refuses_unknown_class(trained, tmp_path):
    from mmmulti.utils.checkpoint import UnsafeCheckpointError, safe_torch_load
    ok = safe_torch_load(osp.join(trained, 'iter_2.pth'))
    assert 'message_hub' in ok and 'state_dict' in ok
    bad = str(tmp_path / 'bad.pth')
    torch.save({'state_dict': {}, 'meta': {'x': Stranger()}}, bad)
    with pytest.raises(UnsafeCheckpointError, match='Stranger'):
        safe_torch_load(bad)


def test_allowlist_refuses_getattr_walk(tmp_path):
    """getattr is only allowed for HistoryBuffer statistics, not to reach code."""
    from mmengine.logging.history_buffer import HistoryBuffer
    from mmmulti.utils.checkpoint import UnsafeCheckpointError, safe_torch_load
    bad = str(tmp_path / 'walk.pth')
    torch.save({'f': HistoryBuffer.__init__}, bad)
    with pytest.raises(UnsafeCheckpointError):
        safe_torch_load(bad)


def test_bad_input_errors(tiny_med_mnist, tmp_path):
    code, out = run_tool([sys.executable, 'tools/train.py', CONFIG, '--work-dir',
                          str(tmp_path), *data_opts(tiny_med_mnist),
                          'model.bbox_head.type=NoSuchHead'], check=False)
    assert code != 0 and 'NoSuchHead is not in the' in out
    code, out = run_tool([sys.executable, 'tools/train.py', CONFIG, '--work-dir',
                          str(tmp_path), *data_opts('/nonexistent/root')], check=False)
    assert code != 0 and 'data_root: /nonexistent/root/ does not exist' in out
    code, out = run_tool([sys.executable, 'tools/test.py', CONFIG, '/no/such.pth',
                          *data_opts(tiny_med_mnist)], check=False)
    assert code != 0 and 'checkpoint /no/such.pth does not exist' in out
