"""Training-step throughput of the CPU recipe: the step's fixed costs.

YOLOv5-n at 128 px (the quick start's model) trains one step per batch:
forward, loss, backward, gradient clipping, AdamW, and the weight EMA. The
optimizer and the EMA cost the same per step whatever the batch, so they
weigh most at small batches on a CPU. Compared, in the same run, interleaved:

* baseline: mmengine's default constructor with ``paramwise_cfg`` (one group
  per parameter, so AdamW steps tensor by tensor) + mmdet's ``ExpMomentumEMA``;
* ours: ``DecayGroupsOptimWrapperConstructor`` (two groups, fused AdamW) +
  ``BatchedExpMomentumEMA``; same arithmetic (the EMA equal bit for bit, tested).

    python benchmarks/bench_train_step.py                 # batch 8 and 16
    python benchmarks/bench_train_step.py --batches 16 --repeats 30

Prints images/s of each and the ratio (target >= 1.0: never slower), and
images/s by batch size for the recipe (why the CPU scales use batch 16).
"""
import argparse
import copy
import statistics
import time

import torch
from mmdet.structures import DetDataSample
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

from mmmulti.registry import MODELS
from mmmulti.utils.setup_env import register_all_modules

MODEL = dict(
    type='SingleStageDetector',
    data_preprocessor=dict(type='DetDataPreprocessor', mean=[0., 0., 0.],
                           std=[255., 255., 255.], bgr_to_rgb=True, pad_size_divisor=32),
    backbone=dict(type='YOLOv5CSPDarknet', deepen_factor=0.33, widen_factor=0.25,
                  out_indices=(2, 3, 4)),
    neck=dict(type='YOLOv5PAFPN', in_channels=[256, 512, 1024], deepen_factor=0.33,
              widen_factor=0.25, num_csp_blocks=3),
    bbox_head=dict(type='YOLOv5Head', num_classes=10, in_channels=[256, 512, 1024],
                   widen_factor=0.25, train_size=128,
                   loss_weights=dict(box=0.05, obj=1.0, cls=4.0)))
ADAMW = dict(type='AdamW', lr=3e-3, betas=(0.9, 0.999), weight_decay=0.05)
SETUPS = {
    'baseline': (dict(type='OptimWrapper', optimizer=ADAMW, clip_grad=dict(max_norm=10.0),
                      paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0)),
                 'ExpMomentumEMA'),
    'ours': (dict(type='OptimWrapper', constructor='DecayGroupsOptimWrapperConstructor',
                  optimizer=dict(ADAMW, fused=True), clip_grad=dict(max_norm=10.0)),
             'BatchedExpMomentumEMA'),
}


def batch(size: int, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    samples = []
    for _ in range(size):
        s = DetDataSample(metainfo=dict(img_shape=(128, 128), pad_shape=(128, 128),
                                        batch_input_shape=(128, 128), scale_factor=(1., 1.)))
        xy = torch.rand(4, 2, generator=g) * 96
        wh = 10 + torch.rand(4, 2, generator=g) * 22
        s.gt_instances = InstanceData(bboxes=torch.cat([xy, xy + wh], 1),
                                      labels=torch.randint(0, 10, (4, ), generator=g))
        samples.append(s)
    imgs = [torch.randint(0, 255, (3, 128, 128), generator=g, dtype=torch.uint8)
            for _ in range(size)]
    return dict(inputs=imgs, data_samples=samples)


def make(setup: str, model: torch.nn.Module):
    wrapper_cfg, ema_type = SETUPS[setup]
    model = copy.deepcopy(model)
    wrapper = build_optim_wrapper(model, copy.deepcopy(wrapper_cfg))
    ema = MODELS.build(dict(type=ema_type, model=model, momentum=0.0001, gamma=200,
                            update_buffers=True))
    return model, wrapper, ema


def step(model, wrapper, ema, data) -> float:
    t0 = time.perf_counter()
    model.train_step(data, wrapper)
    ema.update_parameters(model)
    return time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--batches', type=int, nargs='+', default=[8, 16])
    p.add_argument('--repeats', type=int, default=20)
    p.add_argument('--warmup', type=int, default=3)
    args = p.parse_args()
    register_all_modules()
    init_default_scope('mmmulti')
    torch.manual_seed(0)
    base_model = MODELS.build(MODEL)
    print(f'torch threads: {torch.get_num_threads()}')
    print('| batch | baseline img/s | ours img/s | ratio (ours / baseline) |')
    print('|---|---|---|---|')
    for bs in args.batches:
        data = batch(bs)
        runs = {name: make(name, base_model) for name in SETUPS}
        times = {name: [] for name in SETUPS}
        for i in range(args.warmup + args.repeats):
            order = list(SETUPS) if i % 2 == 0 else list(SETUPS)[::-1]
            for name in order:
                t = step(*runs[name], data)
                if i >= args.warmup:
                    times[name].append(t)
        rate = {n: bs / statistics.median(t) for n, t in times.items()}
        print(f'| {bs} | {rate["baseline"]:.1f} | {rate["ours"]:.1f} | '
              f'{rate["ours"] / rate["baseline"]:.2f} |')


if __name__ == '__main__':
    main()
