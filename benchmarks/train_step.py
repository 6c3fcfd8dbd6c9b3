"""Where a quick-start training iteration spends its time: Runner vs bare step vs data.

The quick start's config (``configs/protocol/quick.py``, arm ``wbf_earl`` by
default, the data in ``data/med_mnist_quick``, generated if missing), measured
on the same training images in one run:

* (c) data: the training data loader alone (loading, fusion weights, transforms,
  collation) over the benchmark's images;
* (b) bare: the model's step on the batches (c) produced: data preprocessor,
  forward + target assignment + loss, backward, gradient clipping, AdamW; split
  into those parts, plus one EMA update per step measured on its own;
* (a) runner: mmengine's ``Runner.train()`` for one epoch of the same images,
  with every hook of the config (EMA, logger, scheduler, timer), the data loader
  included: what the quick start pays per iteration.

    python benchmarks/train_step.py                       # 8 warm-up + 40 timed iterations
    python benchmarks/train_step.py --arm baseline --iters 60
    python benchmarks/train_step.py --profile-out prof.txt    # + torch.profiler op table
    python benchmarks/train_step.py --yardstick --iters 30 --repeats 2  # place this machine

Prints images/s of each, the breakdown in ms per iteration, the overhead ratio
a/b (target <= 1.15: the loop adds at most 15 % to the model's own work) and,
as its last line, JSON: ``{"runner_img_s", "bare_img_s", "data_img_s",
"overhead"}``. Validation, testing and process start-up are not per-iteration
costs: the protocol prints them per stage (docs/speed.md).
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import os.path as osp
import statistics
import sys
import tempfile
import time
from typing import Dict, List

import torch
from mmengine.hooks import Hook
from mmengine.optim import build_optim_wrapper
from mmengine.runner import Runner

from mmmulti.models.layers import BatchedExpMomentumEMA
from mmmulti.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


class IterClock(Hook):
    """Wall time of every training iteration after the warm-up, data fetch included
    (from one iteration's end to the next one's end)."""

    priority = 'LOWEST'

    def __init__(self, warmup: int) -> None:
        self.warmup = warmup
        self.last = None
        self.times: List[float] = []

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        now = time.perf_counter()
        if self.last is not None and batch_idx >= self.warmup:
            self.times.append(now - self.last)
        self.last = now


#: the speed changes the yardstick predates (docs/speed.md)
YARDSTICK_WITHOUT_HOOKS = ('ChannelsLastHook', 'KeepFreedMemoryHook')
#: the data preprocessor of the step the yardstick was measured on
YARDSTICK_DATA_PREPROCESSOR = 'DetDataPreprocessor'
#: YOLOv5's activations then: in place (they clone their input under autograd)
YARDSTICK_ACT_CFG = dict(type='SiLU', inplace=True)


@MODELS.register_module(force=True)
class StateDictWalkEMA(BatchedExpMomentumEMA):
    """The batched EMA as it was when the yardstick was measured: its sources read
    through ``model.state_dict()`` every step (the same averages; only slower)."""

    def _owners(self, model):
        return None


def quick_config(arm_name: str, images: int, work_dir: str, yardstick: bool = False):
    """The protocol's merged config of ``arm_name`` at the quick scale, cut to
    ``images`` training images, one epoch, no validation or checkpoint.

    ``yardstick``: the step as the machine-speed yardstick (0.17 to 0.41 s per
    iteration across this project's 2-core machines) was first measured, before the
    speed changes: NCHW weights (no ``ChannelsLastHook``), glibc's default allocator
    policy (no ``KeepFreedMemoryHook``), PNGs decoded every epoch (no image cache),
    the EMA's sources read through ``state_dict()``, data samples copied by
    mmdet's ``DetDataPreprocessor`` and in-place SiLU activations, so that a figure
    from any machine compares with those.

    The quick scale trains its first epochs at 96 px and switches to the full 128 px
    (``PipelineSwitchHook``); the benchmark measures the full-size step, the one the
    figures in docs/speed.md and the per-iteration yardstick are for."""
    from mmmulti.protocol.arms import expand_arms, make_arms
    from mmmulti.protocol.runner import ProtocolRunner, ProtocolSettings
    settings = ProtocolSettings(scale_file=osp.join(ROOT, 'configs/protocol/quick.py'),
                                work_dir=work_dir,
                                data_root=osp.join(ROOT, 'data/med_mnist_quick'))
    pr = ProtocolRunner(settings)
    pr.prepare_data()
    arm = expand_arms([arm_name], make_arms(pr.readers()))[0]
    cfg = pr.merged_arm_config(arm, 0, work_dir)
    switches = [h for h in cfg.custom_hooks if h.type.endswith('PipelineSwitchHook')]
    if switches:
        cfg.train_dataloader.dataset.pipeline = switches[-1].switch_pipeline
        cfg.custom_hooks = [h for h in cfg.custom_hooks if h not in switches]
    if yardstick:
        cfg.custom_hooks = [h for h in cfg.custom_hooks
                            if h.type not in YARDSTICK_WITHOUT_HOOKS]
        for h in cfg.custom_hooks:
            if h.type == 'EMAHook':
                h.ema_type = StateDictWalkEMA.__name__
        cfg.model.data_preprocessor.type = YARDSTICK_DATA_PREPROCESSOR
        cfg.model.backbone.act_cfg = dict(YARDSTICK_ACT_CFG)
        cfg.model.neck.act_cfg = dict(YARDSTICK_ACT_CFG)
        cfg.train_dataloader.dataset.cache_images = False
    cfg.train_dataloader.dataset.indices = images
    cfg.train_cfg.max_epochs = 1
    cfg.train_cfg.val_interval = 10 ** 6
    cfg.default_hooks.checkpoint = None
    cfg.log_level = 'WARNING'
    return cfg


def time_data(loader, n: int) -> tuple:
    """(batches, seconds per batch) of the first ``n`` batches of ``loader``."""
    batches, times = [], []
    it = iter(loader)
    for _ in range(n):
        t = time.perf_counter()
        batches.append(next(it))
        times.append(time.perf_counter() - t)
    return batches, times


def time_bare(model, optim_wrapper, ema, batches: list) -> Dict[str, List[float]]:
    """Seconds per batch of each part of the bare step (``train_step``'s own sequence,
    timed part by part), and of a forward pass alone on the same inputs."""
    parts: Dict[str, List[float]] = {k: [] for k in
                                     ('preprocess', 'forward', 'forward+loss', 'backward',
                                      'optimizer', 'ema')}
    model.train()
    for batch in batches:
        t0 = time.perf_counter()
        data = model.data_preprocessor(batch, True)
        t1 = time.perf_counter()
        losses = model._run_forward(data, mode='loss')
        t2 = time.perf_counter()
        parsed, _ = model.parse_losses(losses)
        optim_wrapper.backward(parsed)
        t3 = time.perf_counter()
        optim_wrapper.step()
        optim_wrapper.zero_grad()
        t4 = time.perf_counter()
        ema.update_parameters(model)
        t5 = time.perf_counter()
        with torch.no_grad():  # the network alone, without targets or loss
            tf = time.perf_counter()
            model._forward(data['inputs'])
            parts['forward'].append(time.perf_counter() - tf)
        for k, a, b in (('preprocess', t0, t1), ('forward+loss', t1, t2),
                        ('backward', t2, t3), ('optimizer', t3, t4), ('ema', t4, t5)):
            parts[k].append(b - a)
    return parts


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--arm', default='wbf_earl', help='a quick-start arm (baseline, wbf_earl)')
    p.add_argument('--iters', type=int, default=40, help='timed iterations')
    p.add_argument('--warmup', type=int, default=8, help='untimed iterations first')
    p.add_argument('--repeats', type=int, default=3,
                   help='alternating (b) and (a) passes; the figures are their medians')
    p.add_argument('--profile-out', help='also write torch.profiler\'s table of the bare '
                   'step (self CPU time by op) to this file')
    p.add_argument('--yardstick', action='store_true',
                   help='the step without the speed changes (NCHW weights, glibc\'s '
                   'default allocator policy, no image cache, the EMA and data '
                   'preprocessor as they were): what the machine-speed '
                   'yardstick (0.17-0.41 s/iteration) was measured on, to place this '
                   'machine among the kinds (docs/speed.md)')
    args = p.parse_args(argv)
    if args.iters < 1 or args.warmup < 1 or args.repeats < 1:
        p.error('--iters, --warmup and --repeats must be >= 1')
    from mmmulti.utils.setup_env import setup_run
    setup_run()
    work_dir = tempfile.mkdtemp(prefix='mmmulti_train_step_')
    n = args.warmup + args.iters
    cfg = quick_config(args.arm, n * cfg_batch(), work_dir, args.yardstick)
    bs = cfg.train_dataloader.batch_size
    channels_last = any(h['type'] == 'ChannelsLastHook' for h in cfg.get('custom_hooks', []))
    layout = 'channels_last' if channels_last else 'NCHW'
    print(f'quick-start arm {args.arm}: batch {bs}, {n} iterations ({args.warmup} warm-up), '
          f'{torch.get_num_threads()} torch threads, num_workers '
          f'{cfg.train_dataloader.num_workers}, {layout} weights', flush=True)

    def fresh_runner(repeat: int) -> Runner:
        """A Runner of its own per repeat (one ``train()`` each), under its own name."""
        rcfg = copy.deepcopy(cfg)
        if repeat:
            rcfg.experiment_name = f'train_step_repeat{repeat}'
        return Runner.from_cfg(rcfg)

    runner = fresh_runner(0)
    batches, data_t = time_data(runner.train_dataloader, n)
    data_s = statistics.fmean(data_t[args.warmup:])

    model = copy.deepcopy(runner.model)
    if channels_last:  # the bare step in the layout the Runner trains in
        model.to(memory_format=torch.channels_last)
    optim_wrapper = build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper))
    ema_cfg = next(h for h in cfg.custom_hooks if h['type'] == 'EMAHook')
    ema = MODELS.build(dict(type=ema_cfg['ema_type'], model=model,
                            momentum=ema_cfg['momentum'], gamma=ema_cfg['gamma'],
                            update_buffers=ema_cfg.get('update_buffers', False)))
    # (b) and (a) alternate, `--repeats` times: the machine's speed drifts between
    # passes by more than the overhead measured, so each repeat's a/b is one paired
    # ratio and the figures are medians over repeats
    repeats = []
    for r in range(args.repeats):
        parts = time_bare(model, optim_wrapper, ema, batches)
        mean = {k: statistics.fmean(v[args.warmup:]) for k, v in parts.items()}
        bare_s = (mean['preprocess'] + mean['forward+loss'] + mean['backward']
                  + mean['optimizer'])
        if r:
            runner = fresh_runner(r)
        clock = IterClock(args.warmup)
        runner.register_hook(clock, priority='LOWEST')
        runner.train()
        runner_s = statistics.fmean(clock.times)
        repeats.append(dict(mean, bare=bare_s, runner=runner_s, ratio=runner_s / bare_s))
        print(f'repeat {r + 1}/{args.repeats}: bare {1000 * bare_s:.1f} ms, runner '
              f'{1000 * runner_s:.1f} ms, a/b {runner_s / bare_s:.3f}', flush=True)
    mean = {k: statistics.median(x[k] for x in repeats) for k in repeats[0]}
    bare_s, runner_s = mean['bare'], mean['runner']

    if args.profile_out:
        from torch.profiler import ProfilerActivity, profile
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            time_bare(model, optim_wrapper, ema, batches[:min(10, n)])
        with open(args.profile_out, 'w') as f:
            f.write(prof.key_averages().table(sort_by='self_cpu_time_total', row_limit=40))
        print(f'profile: {args.profile_out}')

    ms = lambda s: f'{1000 * s:8.1f}'  # noqa: E731
    print(f'\nper iteration (ms), mean over the timed iterations, median of {args.repeats} '
          'repeats:')
    print(f'  (c) data loader ............ {ms(data_s)}')
    print(f'  (b) bare step .............. {ms(bare_s)}')
    print(f'      preprocess ............. {ms(mean["preprocess"])}')
    print(f'      forward ................ {ms(mean["forward"])}  (network alone, no grad)')
    print(f'      targets + loss ......... {ms(max(0.0, mean["forward+loss"] - mean["forward"]))}'
          '  (forward with loss minus network alone)')
    print(f'      backward ............... {ms(mean["backward"])}')
    print(f'      clip + AdamW ........... {ms(mean["optimizer"])}')
    print(f'      EMA update (a hook) .... {ms(mean["ema"])}')
    print(f'  (a) Runner iteration ....... {ms(runner_s)}')
    print(f'      of which not in (b) .... {ms(runner_s - bare_s)}  (data, EMA, hooks)')
    out = dict(runner_img_s=round(bs / runner_s, 2), bare_img_s=round(bs / bare_s, 2),
               data_img_s=round(bs / data_s, 2), overhead=round(mean['ratio'], 3))
    print(f'\nimages/s: runner {out["runner_img_s"]}, bare {out["bare_img_s"]}, '
          f'data {out["data_img_s"]}; overhead a/b {out["overhead"]} (target <= 1.15)')
    print(json.dumps(out))
    sys.stdout.flush()


def cfg_batch() -> int:
    """The quick scale's training batch size (its override config)."""
    from mmengine.config import Config
    return Config.fromfile(osp.join(ROOT, 'configs/protocol/_cpu_overrides.py'))._batch_size


if __name__ == '__main__':
    os.chdir(ROOT)
    main()
