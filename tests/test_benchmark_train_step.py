"""benchmarks/train_step.py on a few iterations: the issue's JSON line and the
alternating repeats, so the benchmark the speed figures come from cannot rot."""
import json
import subprocess
import sys

import torch
from conftest import REPO


def test_train_step_benchmark_prints_its_json_line():
    proc = subprocess.run([sys.executable, 'benchmarks/train_step.py', '--iters', '2',
                           '--warmup', '1', '--repeats', '2'], cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    assert 'repeat 1/2: bare' in proc.stdout and 'repeat 2/2: bare' in proc.stdout, log[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(out) == {'runner_img_s', 'bare_img_s', 'data_img_s', 'overhead'}
    assert all(isinstance(v, float) and v > 0 for v in out.values()), out
    # the data loader alone is far faster than any training step
    assert out['data_img_s'] > out['bare_img_s']


def test_train_step_benchmark_refuses_zero_repeats():
    proc = subprocess.run([sys.executable, 'benchmarks/train_step.py', '--repeats', '0'],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert '--repeats must be >= 1' in proc.stderr


def test_benchmark_measures_the_full_size_step(tmp_path):
    """The quick scale's first epochs are at 96 px; the benchmark times the 128-px step
    its documented figures are for, with no pipeline switch left to fire."""
    sys.path.insert(0, f'{REPO}/benchmarks')
    from train_step import quick_config
    cfg = quick_config('wbf_earl', 16, str(tmp_path))
    resize = next(t for t in cfg.train_dataloader.dataset.pipeline if t['type'] == 'Resize')
    assert tuple(resize['scale']) == (128, 128)
    assert not [h for h in cfg.custom_hooks if h.type.endswith('PipelineSwitchHook')]
    assert [h.type for h in cfg.custom_hooks][:2] == ['KeepFreedMemoryHook', 'ChannelsLastHook']


def test_yardstick_is_the_step_before_the_speed_changes(tmp_path):
    """--yardstick times the step the cross-machine figures (0.17-0.41 s per iteration)
    were measured on: NCHW, glibc's allocator default, PNGs decoded each epoch; every
    other hook of the quick scale stays."""
    sys.path.insert(0, f'{REPO}/benchmarks')
    from train_step import quick_config
    shipped = quick_config('wbf_earl', 16, str(tmp_path / 'a'))
    yard = quick_config('wbf_earl', 16, str(tmp_path / 'b'), yardstick=True)
    left_out = {'ChannelsLastHook', 'KeepFreedMemoryHook'}
    assert left_out <= {h.type for h in shipped.custom_hooks}
    assert [h.type for h in yard.custom_hooks] == [
        h.type for h in shipped.custom_hooks if h.type not in left_out]
    assert shipped.train_dataloader.dataset.cache_images is True
    assert yard.train_dataloader.dataset.cache_images is False
    # the EMA walks state_dict() and mmdet's preprocessor copies the samples, as then
    ema = {h.type: h for h in yard.custom_hooks}['EMAHook']
    assert ema.ema_type == 'StateDictWalkEMA'
    assert {h.type: h for h in shipped.custom_hooks}['EMAHook'].ema_type == \
        'BatchedExpMomentumEMA'
    assert yard.model.data_preprocessor.type == 'DetDataPreprocessor'
    from mmmulti.registry import MODELS
    assert shipped.model.data_preprocessor.type == 'HostDetDataPreprocessor'
    # in-place SiLU then, out of place now (the model's own default)
    for part in ('backbone', 'neck'):
        assert yard.model[part].act_cfg == dict(type='SiLU', inplace=True)
        assert 'act_cfg' not in shipped.model[part]
    from mmengine.registry import init_default_scope
    init_default_scope('mmmulti')
    built = {name: MODELS.build(c.model) for name, c in (('shipped', shipped), ('yard', yard))}
    for name, inplace in (('shipped', False), ('yard', True)):
        silus = [m for m in built[name].modules() if isinstance(m, torch.nn.SiLU)]
        assert silus and all(m.inplace is inplace for m in silus)
    walk = MODELS.build(dict(type='StateDictWalkEMA', model=torch.nn.Linear(2, 2),
                             momentum=0.1, gamma=10, update_buffers=True))
    assert walk._owners(torch.nn.Linear(2, 2)) is None  # the state_dict path
