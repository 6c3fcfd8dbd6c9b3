"""Bad input at run time: nothing lost, nothing executed, nothing silent.

One case per row of docs/bad_input.md, "Runtime, checkpoints and predictions":
prediction pickles that would run code, outputs that would overwrite their
input, checkpoints of the shipped schedulers, NaN losses, checkpoints of
another head, distributed shutdown, unsafe checkpoints.
"""
import glob
import importlib.util
import json
import os
import os.path as osp
import pickle
import re
import subprocess
import sys

import pytest
import torch

from conftest import REPO, data_root_options

CONFIG = 'configs/tiny/retinanet_tiny_med_mnist.py'


def run_tool(args, env=None, cwd=REPO):
    full_env = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS='1', **(env or {}))
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=full_env,
                          timeout=600)
    return proc.returncode, proc.stdout + proc.stderr


def ok(args, **kw):
    code, out = run_tool(args, **kw)
    assert code == 0, f'{args} failed ({code}):\n{out[-4000:]}'
    return out


@pytest.fixture(scope='module')
def trained(tiny_med_mnist, tmp_path_factory):
    """A 2-iteration tiny RetinaNet and its tools/test.py --out pickle."""
    work = str(tmp_path_factory.mktemp('work'))
    ok([sys.executable, 'tools/train.py', CONFIG, '--work-dir', work,
        '--cfg-options', *data_root_options(tiny_med_mnist)])
    pkl = osp.join(work, 'preds.pkl')
    ok([sys.executable, 'tools/test.py', CONFIG, osp.join(work, 'iter_2.pth'),
        '--work-dir', work, '--out', pkl, '--cfg-options', *data_root_options(tiny_med_mnist)])
    return work


# --- 1. prediction pickles never run code -------------------------------------------

class RunsCommand:
    """Unpickling this runs a shell command (what a crafted .pkl does)."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command, )


class EvilStorage:
    """A tensor-looking payload whose storage bytes are an unrestricted pickle."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        from torch.storage import _load_from_bytes
        return _load_from_bytes, (pickle.dumps(RunsCommand(self.command), protocol=2), )


def write_evil_pkl(path, marker, kind=RunsCommand):
    sample = dict(img_id=1, ori_shape=(64, 64), payload=kind(f'touch {marker}'),
                  pred_instances=dict(bboxes=torch.zeros(0, 4), scores=torch.zeros(0),
                                      labels=torch.zeros(0, dtype=torch.long)))
    with open(path, 'wb') as f:
        pickle.dump([sample], f, protocol=2)


@pytest.mark.parametrize('kind', [RunsCommand, EvilStorage])
def test_malicious_prediction_pickle_is_refused(tiny_med_mnist, tmp_path, kind):
    from mmmulti.evaluation import load_predictions
    from mmmulti.utils.safe_pickle import UnsafePickleError
    marker = tmp_path / 'executed'
    pkl = str(tmp_path / 'evil.pkl')
    write_evil_pkl(pkl, marker, kind)
    gt = osp.join(tiny_med_mnist, 'annotations', 'test.json')
    with pytest.raises(UnsafePickleError, match='evil.pkl'):
        load_predictions(pkl, gt)
    code, out = run_tool([sys.executable, 'tools/analysis/eval_results.py', '--gt', gt,
                          '--pred', pkl])
    assert code != 0 and 'UnsafePickleError' in out and 'refused' in out
    if kind is RunsCommand:
        assert 'posix.system' in out  # the error names the class
    code, out = run_tool([sys.executable, 'tools/ensemble.py', pkl, '--gt', gt,
                          '--out', str(tmp_path / 'fused.json')])
    assert code != 0 and 'refused' in out
    assert not marker.exists(), 'the pickle ran its command'
    assert not (tmp_path / 'fused.json').exists()


def test_real_test_out_pickle_still_loads(trained, tiny_med_mnist):
    from mmmulti.evaluation import load_predictions
    gt = osp.join(tiny_med_mnist, 'annotations', 'test.json')
    pkl = osp.join(trained, 'preds.pkl')
    preds = load_predictions(pkl, gt)
    assert isinstance(preds, list)
    out = ok([sys.executable, 'tools/analysis/eval_results.py', '--gt', gt, '--pred', pkl,
              '--json'])
    assert 'map_40' in json.loads(out.strip().splitlines()[-1])


def test_data_elements_tensors_and_arrays_load(tmp_path):
    """What DumpDetResults may pickle: data elements, tensors, numpy, tuples."""
    import numpy as np
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData
    from mmmulti.utils.safe_pickle import load_prediction_pickle
    sample = DetDataSample(metainfo=dict(img_id=3, ori_shape=(8, 8)))
    sample.pred_instances = InstanceData(bboxes=torch.ones(2, 4), scores=torch.ones(2),
                                         labels=torch.zeros(2, dtype=torch.long))
    extra = dict(arr=np.arange(3), f=np.float64(0.5), dtype=torch.float32, b=b'x', s={1})
    for protocol in (2, 5):
        path = tmp_path / f'p{protocol}.pkl'
        path.write_bytes(pickle.dumps([sample, extra], protocol=protocol))
        back = load_prediction_pickle(str(path))
        assert back[0].pred_instances.bboxes.shape == (2, 4)
        assert back[1]['arr'].tolist() == [0, 1, 2] and back[1]['b'] == b'x'


# --- 2. outputs never destroy inputs; writes are atomic -------------------------------

def readers_file(path):
    data = dict(images=[dict(id=1, file_name='1.png', width=64, height=64,
                             readers=['R1', 'R2'])],
                categories=[dict(id=1, name='nodule')],
                annotations=[dict(id=1, image_id=1, category_id=1, bbox=[10, 10, 20, 20],
                                  reader='R1'),
                             dict(id=2, image_id=1, category_id=1, bbox=[11, 10, 20, 20],
                                  reader='R2')])
    path.write_text(json.dumps(data))
    return path.read_text()


def load_tool(rel_path):
    spec = importlib.util.spec_from_file_location(osp.basename(rel_path)[:-3],
                                                  osp.join(REPO, rel_path))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_fuse_annotations_refuses_to_overwrite_its_input(tmp_path, capsys):
    tool = load_tool('tools/fuse_annotations.py')
    src = tmp_path / 'readers.json'
    before = readers_file(src)
    os.symlink(src, tmp_path / 'link.json')
    (tmp_path / 'sub').mkdir()
    for out in (src, tmp_path / 'link.json', tmp_path / 'sub' / '..' / 'readers.json'):
        assert tool.main([str(src), str(out)]) != 0
        err = capsys.readouterr().err
        assert 'is the input file' in err and '--overwrite' in err
        assert src.read_text() == before
    # asked for explicitly, it is allowed
    assert tool.main([str(src), str(src), '--overwrite']) == 0
    assert json.loads(src.read_text())['info']['fusion']['type'] == 'WBF'


def test_ensemble_refuses_out_equal_to_an_input(tiny_med_mnist, tmp_path):
    preds = tmp_path / 'a.bbox.json'
    preds.write_text('[]')
    gt = osp.join(tiny_med_mnist, 'annotations', 'test.json')
    code, out = run_tool([sys.executable, 'tools/ensemble.py', str(preds), '--gt', gt,
                          '--out', str(preds)])
    assert code != 0 and 'is the input file' in out and preds.read_text() == '[]'


def test_interrupted_write_keeps_the_old_file(tmp_path):
    from mmmulti.utils.atomic import atomic_write, dump_json_atomic
    path = tmp_path / 'out.json'
    dump_json_atomic({'old': 1}, path)
    with pytest.raises(RuntimeError):
        with atomic_write(path) as f:
            f.write('{"new": ')
            raise RuntimeError('interrupted')
    assert json.loads(path.read_text()) == {'old': 1}
    assert os.listdir(tmp_path) == ['out.json']  # no temporary file left behind
    os.symlink(path, tmp_path / 'link.json')
    dump_json_atomic({'new': 2}, tmp_path / 'link.json')  # written through the link
    assert (tmp_path / 'link.json').is_symlink()
    assert json.loads(path.read_text()) == {'new': 2}


# --- 4. checkpoints of every shipped scheduler load in test.py and --resume ------------

def shipped_scheduler_setups():
    """One setup per combination of param scheduler types the shipped configs use,
    with the custom hooks of the config that has the most (e.g. EMA)."""
    from mmengine.config import Config
    setups = {}
    for path in sorted(glob.glob(osp.join(REPO, 'configs', '**', '*.py'), recursive=True)):
        if '_base_' in path.split(os.sep):
            continue
        cfg = Config.fromfile(path)
        if not cfg.get('train_cfg'):
            continue
        scheds = cfg.get('param_scheduler') or []
        scheds = [scheds] if isinstance(scheds, dict) else list(scheds)
        if not scheds:  # constant lr: nothing of a scheduler in the checkpoint
            continue
        key = tuple(s['type'] for s in scheds)
        hooks = list(cfg.get('custom_hooks') or [])
        if key not in setups or len(hooks) > len(setups[key][1]):
            setups[key] = (scheds, hooks, osp.relpath(path, REPO))
    return setups


SETUPS = shipped_scheduler_setups()


def tiny_schedule(scheds):
    """The shipped schedulers over 2 epochs (the tiny run trains 1, resumes to 2)."""
    out = []
    for s in scheds:
        s = dict(s)
        for key in ('total_steps', 'T_max'):
            if key in s:
                s[key] = 2
        # also where the config leaves `end` to the runner (which would end a cycle at
        # the first run's max_epochs=1, and the resumed epoch would step past it)
        s['end'] = 2
        out.append(s)
    return out


@pytest.mark.parametrize('key', sorted(SETUPS), ids='+'.join)
def test_shipped_scheduler_checkpoint_loads(key, tiny_med_mnist, tmp_path):
    from mmengine.config import Config
    scheds, hooks, source = SETUPS[key]
    cfg = Config.fromfile(osp.join(REPO, CONFIG))
    cfg.merge_from_dict(dict(o.split('=', 1) for o in data_root_options(tiny_med_mnist)))
    cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=1, val_interval=1000)
    cfg.param_scheduler = tiny_schedule(scheds)
    cfg.custom_hooks = hooks
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1, by_epoch=True)
    cfg.log_processor = dict(type='LogProcessor', window_size=50, by_epoch=True)
    cfg.train_dataloader.dataset.indices = 4  # 2 iterations per epoch
    cfg_path = str(tmp_path / 'cfg.py')
    cfg.dump(cfg_path)
    work = str(tmp_path / 'work')
    ok([sys.executable, 'tools/train.py', cfg_path, '--work-dir', work])
    ckpt = osp.join(work, 'epoch_1.pth')
    out = ok([sys.executable, 'tools/test.py', cfg_path, ckpt, '--work-dir', work])
    assert 'coco/map_40' in out, source
    out = ok([sys.executable, 'tools/train.py', cfg_path, '--work-dir', work, '--resume',
              '--cfg-options', 'train_cfg.max_epochs=2'])
    assert 'resumed epoch: 1, iter: 2' in out, source
    assert osp.isfile(osp.join(work, 'epoch_2.pth'))


def test_annealing_allowlist_is_exact(tmp_path):
    """The annealing functions load; nothing else of the scheduler class does."""
    from mmengine.optim.scheduler.param_scheduler import OneCycleParamScheduler as OneCycle
    from mmmulti.utils.checkpoint import UnsafeCheckpointError, safe_torch_load
    from mmmulti.utils.checkpoint import scheduler_annealing_functions
    assert {p.rsplit('.', 1)[1] for p in scheduler_annealing_functions()} >= {
        '_annealing_cos', '_annealing_linear'}
    good = str(tmp_path / 'good.pth')
    torch.save({'f': OneCycle._annealing_linear}, good)
    assert safe_torch_load(good)['f'] is OneCycle._annealing_linear
    for obj in (OneCycle.step, OneCycle.__init__):
        bad = str(tmp_path / 'bad.pth')
        torch.save({'f': obj}, bad)
        with pytest.raises(UnsafeCheckpointError):
            safe_torch_load(bad)


class CallsScheduler:
    def __reduce__(self):
        from mmengine.optim.scheduler.param_scheduler import OneCycleParamScheduler
        return OneCycleParamScheduler, (None, )


def test_scheduler_class_cannot_be_called(tmp_path):
    from mmmulti.utils.checkpoint import UnsafeCheckpointError, safe_torch_load
    bad = str(tmp_path / 'call.pth')
    torch.save({'f': CallsScheduler()}, bad)
    with pytest.raises(UnsafeCheckpointError, match='refused to call OneCycleParamScheduler'):
        safe_torch_load(bad)


# --- 5. a NaN loss stops training loudly ----------------------------------------------

def test_every_shipped_runtime_checks_the_loss():
    from mmengine.config import Config
    for path in glob.glob(osp.join(REPO, 'configs', '**', '*.py'), recursive=True):
        # bases and the protocol's scales are partial configs, merged onto runnable ones
        # (a scale's merged arm configs: tests/test_protocol_scale.py)
        if {'_base_', 'protocol'} & set(path.split(os.sep)):
            continue
        cfg = Config.fromfile(path)
        if cfg.get('train_cfg'):
            assert cfg.default_hooks.finite_loss.type == 'FiniteLossHook', path


def test_nan_loss_stops_training(tiny_med_mnist, tmp_path):
    code, out = run_tool([sys.executable, 'tools/train.py', CONFIG, '--work-dir',
                          str(tmp_path), '--cfg-options', *data_root_options(tiny_med_mnist),
                          'optim_wrapper.optimizer.lr=1e6', 'train_cfg.max_iters=6'])
    assert code != 0
    m = re.search(r'NonFiniteLossError: non-finite loss at iteration (\d+): (.*)', out)
    assert m, out[-3000:]
    assert re.search(r'loss\w*=(nan|inf)', m.group(2))
    bad_iter = int(m.group(1))
    # no checkpoint of the broken weights
    assert not osp.exists(osp.join(tmp_path, f'iter_{bad_iter}.pth'))
    assert f'Iter(train) [{bad_iter + 1}/6]' not in out


# --- 7 (one case). a checkpoint of another head is an error in tools/test.py ----------

def test_checkpoint_of_another_head_is_an_error(trained, tiny_med_mnist):
    ckpt = osp.join(trained, 'iter_2.pth')
    code, out = run_tool([sys.executable, 'tools/test.py', CONFIG, ckpt, '--work-dir',
                          trained, '--cfg-options', *data_root_options(tiny_med_mnist),
                          'model.bbox_head.num_classes=5'])
    assert code != 0 and 'CheckpointMismatchError' in out
    assert f'checkpoint {ckpt} does not fit' in out
    assert 'bbox_head.retina_cls.weight' in out
    assert 'coco/map_40' not in out  # nothing was scored


# --- 10. distributed runs shut down cleanly -------------------------------------------

def test_shutdown_distributed_destroys_the_group(tmp_path):
    import torch.distributed as dist
    from mmmulti.engine.launch import shutdown_distributed
    store = dist.FileStore(str(tmp_path / 'store'), 1)
    dist.init_process_group('gloo', store=store, rank=0, world_size=1)
    shutdown_distributed()
    assert not dist.is_initialized()
    shutdown_distributed()  # no group: nothing to do


@pytest.mark.slow
def test_dist_train_exits_cleanly(tiny_med_mnist, tmp_path):
    code, out = run_tool(['bash', 'tools/dist_train.sh', CONFIG, '2', '--work-dir',
                          str(tmp_path), '--cfg-options', *data_root_options(tiny_med_mnist)],
                         env={'PORT': '29641'})
    assert code == 0, out[-3000:]
    assert 'terminate called' not in out


# --- 11 and the clear errors that stay clear ------------------------------------------

class Stranger:
    """A class no allowlist knows."""


@pytest.mark.parametrize('zipfile', [True, False], ids=['zip', 'legacy'])
def test_unsafe_checkpoint_advice_is_safe(tmp_path, zipfile):
    from mmmulti.utils.checkpoint import UnsafeCheckpointError, safe_torch_load
    bad = str(tmp_path / 'bad.pth')
    torch.save({'state_dict': {}, 'meta': Stranger()}, bad,
               _use_new_zipfile_serialization=zipfile)
    with pytest.raises(UnsafeCheckpointError) as info:
        safe_torch_load(bad)
    msg = str(info.value)
    assert 'Stranger' in msg and bad in msg
    assert 'weights_only=False' not in msg and 'weights_only` set to `False' not in msg
    assert 'state_dict' in msg  # re-save only the weights


def test_missing_checkpoint_is_a_clear_error(tiny_med_mnist):
    code, out = run_tool([sys.executable, 'tools/test.py', CONFIG, '/no/such.pth',
                          '--cfg-options', *data_root_options(tiny_med_mnist)])
    assert code != 0 and 'checkpoint /no/such.pth does not exist' in out
