"""Would ``torch.compile`` speed up the quick start's training step? Eager vs compiled.

The quick start's arm (``configs/protocol/quick.py``, YOLOv5-n, 128 px, batch 16,
channels-last weights), on the same training batches, in one run:

* eager: the step as the quick start trains it (preprocess, forward + targets +
  loss, backward, clip + AdamW);
* compiled: the same step with the network's modules (backbone, neck, the head's
  prediction convs) compiled by inductor via ``nn.Module.compile``; targets and
  loss stay eager (their shapes change with every batch's boxes).

Eager runs before and after the compiled pass, since the machine's speed drifts.
Each protocol arm trains in its own process, so the compile is paid once per arm.

    python benchmarks/bench_compile.py                  # 1 thread, as each arm trains
    python benchmarks/bench_compile.py --threads 2 --iters 30

Prints the compile time (the first iterations), the steady ms per step of each,
the ratio compiled / eager (below 1 is faster) and, last, a JSON line.
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
from typing import List

import torch

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, osp.join(ROOT, 'benchmarks'))

from train_step import cfg_batch, quick_config  # noqa: E402


def step_times(model, optim_wrapper, batches: list) -> List[float]:
    """Seconds of each training step over ``batches`` (the first ones include any compile)."""
    times = []
    model.train()
    for batch in batches:
        t = time.perf_counter()
        data = model.data_preprocessor(batch, True)
        losses = model._run_forward(data, mode='loss')
        parsed, _ = model.parse_losses(losses)
        optim_wrapper.update_params(parsed)
        times.append(time.perf_counter() - t)
    return times


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--arm', default='wbf_earl', help='a quick-start arm')
    p.add_argument('--iters', type=int, default=30, help='timed iterations after the warm-up')
    p.add_argument('--warmup', type=int, default=5,
                   help='untimed iterations first (the compile happens in these)')
    p.add_argument('--threads', type=int, default=1, help='torch threads (an arm trains with 1)')
    args = p.parse_args(argv)
    if args.iters < 1 or args.warmup < 1 or args.threads < 1:
        p.error('--iters, --warmup and --threads must be >= 1')
    from mmengine.optim import build_optim_wrapper
    from mmengine.runner import Runner

    from mmmulti.utils.setup_env import setup_run
    setup_run()
    torch.set_num_threads(args.threads)
    n = args.warmup + args.iters
    cfg = quick_config(args.arm, n * cfg_batch(), tempfile.mkdtemp(prefix='mmmulti_compile_'))
    runner = Runner.from_cfg(cfg)
    it = iter(runner.train_dataloader)
    batches = [next(it) for _ in range(n)]
    print(f'quick-start arm {args.arm}: {n} iterations ({args.warmup} warm-up), '
          f'{args.threads} torch thread(s), channels-last weights', flush=True)

    def fresh(compiled: bool):
        model = copy.deepcopy(runner.model).to(memory_format=torch.channels_last)
        if compiled:
            for module in (model.backbone, model.neck, model.bbox_head.convs_pred):
                module.compile()
        return model, build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper))

    results = {}
    for name, compiled in (('eager', False), ('compiled', True), ('eager again', False)):
        model, optim_wrapper = fresh(compiled)
        times = step_times(model, optim_wrapper, batches)
        results[name] = dict(warmup_s=sum(times[:args.warmup]),
                             step_ms=1000 * statistics.median(times[args.warmup:]))
        print(f'{name:12s}: warm-up {results[name]["warmup_s"]:6.1f} s, steady '
              f'{results[name]["step_ms"]:6.1f} ms per step (median)', flush=True)
    eager_ms = statistics.fmean([results['eager']['step_ms'], results['eager again']['step_ms']])
    compile_s = results['compiled']['warmup_s'] - results['eager']['warmup_s']
    out = dict(eager_ms=round(eager_ms, 1), compiled_ms=round(results['compiled']['step_ms'], 1),
               ratio=round(results['compiled']['step_ms'] / eager_ms, 3),
               compile_s=round(compile_s, 1))
    print(f'\ncompiled / eager: {out["ratio"]} (below 1 is faster); the compile costs '
          f'{out["compile_s"]} s per training process')
    print(json.dumps(out))


if __name__ == '__main__':
    os.chdir(ROOT)
    main()
