"""EARL overhead: training-step time with and without EARL, same run.

For each head, a plain and an EARL detector with identical weights take
turns (interleaved, order alternating) on the same 640 px batch.

    python benchmarks/bench_earl.py                      # CPU, 4 heads
    python benchmarks/bench_earl.py --heads retina yolox --repeats 20
    python benchmarks/bench_earl.py --device cuda        # wall clock on a GPU

Two measurements per head:

1. ``--mode`` (default ``step``: ``model.train_step``, i.e. forward, loss,
   backward and an SGD step with lr 0 so the weights stay fixed; ``head``: the
   dense head alone on fixed neck features): median times and their ratio.
   On a busy shared CPU this ratio wanders by several per cent either way.
2. The loss alone (head forward + ``loss``, no backward), ``--loss-repeats``
   interleaved pairs: every extra operation of EARL runs there (its backward
   adds one multiply per weighted loss term), so the median of the paired
   differences, with a distribution-free 95 % interval, is EARL's cost. The
   overhead figure is ``1 + extra / step time`` (target <= 1.02).

``--clock cpu`` (default on CPU) times this process's CPU time with one torch
thread, which other jobs on a shared machine barely disturb; ``--clock wall``
times wall-clock (use it on a quiet machine or a GPU).
"""
import argparse
import copy
import math
import statistics
import time

import torch
from mmdet.structures import DetDataSample
from mmengine.optim import OptimWrapper
from mmengine.registry import DefaultScope
from mmengine.structures import InstanceData

import mmmulti  # noqa: F401  (registers EARL)
from mmmulti.registry import MODELS

C = 10
ANCHORS = dict(type='AnchorGenerator', octave_base_scale=4, scales_per_octave=3,
               ratios=[0.5, 1.0, 2.0], strides=[8, 16, 32, 64, 128])
ANCHOR_TRAIN = dict(
    assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.4, min_pos_iou=0,
                  ignore_iof_thr=-1),
    sampler=dict(type='PseudoSampler'), allowed_border=-1, pos_weight=-1, debug=False)
W = 64  # neck / head width: small enough for CPU, real anchor and prior counts
HEADS = dict(
    retina=(dict(type='RetinaHead', num_classes=C, in_channels=W, stacked_convs=2,
                 feat_channels=W, anchor_generator=ANCHORS,
                 bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[.0] * 4,
                                 target_stds=[1.0] * 4)), ANCHOR_TRAIN, 5),
    atss=(dict(type='ATSSHead', num_classes=C, in_channels=W, stacked_convs=2,
               feat_channels=W, norm_cfg=dict(type='GN', num_groups=16, requires_grad=True),
               anchor_generator=dict(ANCHORS, ratios=[1.0], octave_base_scale=8,
                                     scales_per_octave=1),
               bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[.0] * 4,
                               target_stds=[0.1, 0.1, 0.2, 0.2]),
               loss_bbox=dict(type='GIoULoss', loss_weight=2.0)),
          dict(assigner=dict(type='ATSSAssigner', topk=9), allowed_border=-1, pos_weight=-1,
               debug=False), 5),
    fcos=(dict(type='FCOSHead', num_classes=C, in_channels=W, stacked_convs=2,
               feat_channels=W, norm_cfg=dict(type='GN', num_groups=16, requires_grad=True),
               strides=[8, 16, 32, 64, 128]), None, 5),
    yolox=(dict(type='YOLOXHead', num_classes=C, in_channels=W, feat_channels=W,
                stacked_convs=2, strides=(8, 16, 32)),
           dict(assigner=dict(type='SimOTAAssigner', center_radius=2.5)), 3),
)


def detector_cfg(name: str, earl: bool) -> dict:
    head, train_cfg, levels = copy.deepcopy(HEADS[name])
    if earl:
        head = dict(head, type='EARL', head_type=head['type'],
                    earl=dict(weight_mode='fraction', terms=('cls', 'box', 'obj'),
                              normalize='mean'))
    return dict(
        type='RetinaNet' if name != 'yolox' else 'YOLOX',
        data_preprocessor=dict(type='DetDataPreprocessor', mean=[0, 0, 0],
                               std=[255, 255, 255], bgr_to_rgb=True, pad_size_divisor=32),
        backbone=dict(type='ResNet', depth=18, base_channels=16, out_indices=(1, 2, 3),
                      norm_cfg=dict(type='BN', requires_grad=True), init_cfg=None),
        neck=dict(type='FPN', in_channels=[32, 64, 128], out_channels=W, start_level=0,
                  add_extra_convs='on_output' if levels > 3 else False, num_outs=levels),
        bbox_head=head, train_cfg=train_cfg,
        test_cfg=dict(nms_pre=100, score_thr=0.05, nms=dict(type='nms', iou_threshold=0.5),
                      max_per_img=20))


def make_batch(size: int, num_imgs: int, boxes: int, device: str) -> dict:
    """Random images, ``boxes`` gts each with agreement-fraction weights."""
    g = torch.Generator().manual_seed(0)
    inputs, samples = [], []
    for _ in range(num_imgs):
        xy = torch.rand(boxes, 2, generator=g) * size * 0.8
        wh = size * (0.03 + torch.rand(boxes, 2, generator=g) * 0.25)
        agreements = torch.randint(1, 4, (boxes, ), generator=g)
        gt = InstanceData(bboxes=torch.cat([xy, (xy + wh).clamp(max=size - 1)], 1),
                          labels=torch.randint(0, C, (boxes, ), generator=g),
                          agreements=agreements, confidences=agreements.float() / 3)
        s = DetDataSample(metainfo=dict(img_shape=(size, size), ori_shape=(size, size),
                                        pad_shape=(size, size), scale_factor=(1.0, 1.0),
                                        batch_input_shape=(size, size)))
        s.gt_instances = gt.to(device)
        samples.append(s)
        inputs.append(torch.randint(0, 255, (3, size, size), generator=g,
                                    dtype=torch.uint8).to(device))
    return dict(inputs=inputs, data_samples=samples)


def sync(device: str) -> None:
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def step_runner(model, batch: dict, mode: str, device: str):
    if mode == 'step':
        optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.0))

        def run():
            model.train_step(batch, optim)
        return run
    data = model.data_preprocessor(batch, True)
    with torch.no_grad():
        feats = [f.detach() for f in model.extract_feat(data['inputs'])]
    samples = data['data_samples']
    head = model.bbox_head
    if mode == 'loss':
        def run():
            with torch.no_grad():
                head.loss(feats, samples)
        return run

    def run():
        head.zero_grad(set_to_none=True)
        losses = head.loss(feats, samples)
        total = sum(sum(v) if isinstance(v, list) else v for v in losses.values())
        total.backward()
    return run


def time_pair(runs: dict, repeats: int, warmup: int, clock, device: str) -> dict:
    """Interleave plain and EARL runs (order alternating), return timings."""
    times = dict(plain=[], earl=[])
    for rep in range(warmup + repeats):
        order = ('plain', 'earl') if rep % 2 == 0 else ('earl', 'plain')
        for key in order:
            sync(device)
            t0 = clock()
            runs[key]()
            sync(device)
            if rep >= warmup:
                times[key].append(clock() - t0)
    return times


def median_ci(values: list) -> tuple:
    """Median and its distribution-free 95 % confidence interval."""
    v = sorted(values)
    n = len(v)
    half = 1.96 * math.sqrt(n) / 2
    lo = v[max(0, int(math.floor(n / 2 - half)) - 1)]
    hi = v[min(n - 1, int(math.ceil(n / 2 + half)))]
    return statistics.median(v), lo, hi


def bench_head(name: str, args) -> dict:
    with DefaultScope.overwrite_default_scope('mmmulti'):
        torch.manual_seed(0)
        plain = MODELS.build(detector_cfg(name, earl=False)).to(args.device)
        earl = MODELS.build(detector_cfg(name, earl=True)).to(args.device)
    earl.load_state_dict(plain.state_dict())
    plain.train()
    earl.train()
    batch = make_batch(args.size, args.batch, args.boxes, args.device)
    clock = time.process_time if args.clock == 'cpu' else time.perf_counter
    out = {}
    for mode, repeats in ((args.mode, args.repeats), ('loss', args.loss_repeats)):
        if repeats <= 0 or (mode == 'loss' and mode in out):
            continue
        runs = dict(plain=step_runner(plain, batch, mode, args.device),
                    earl=step_runner(earl, batch, mode, args.device))
        times = time_pair(runs, repeats, args.warmup, clock, args.device)
        out[mode] = dict(
            plain=statistics.median(times['plain']), earl=statistics.median(times['earl']),
            # each repeat's EARL time minus the plain time next to it
            diff=median_ci([e - p for e, p in zip(times['earl'], times['plain'])]))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description='EARL overhead on a training step')
    p.add_argument('--heads', nargs='+', default=['retina', 'yolox', 'fcos', 'atss'],
                   choices=list(HEADS))
    p.add_argument('--mode', choices=['step', 'head', 'loss'], default='step',
                   help='full train step; the dense head forward+loss+backward; '
                   'or the head forward+loss alone (no backward)')
    p.add_argument('--size', type=int, default=640, help='image size (px)')
    p.add_argument('--batch', type=int, default=2, help='images per batch')
    p.add_argument('--boxes', type=int, default=8, help='gt boxes per image')
    p.add_argument('--repeats', type=int, default=10, help='timed repeats of --mode')
    p.add_argument('--loss-repeats', type=int, default=100,
                   help='timed repeats of the loss alone, where all of EARL\'s extra '
                   'work happens (0: skip)')
    p.add_argument('--warmup', type=int, default=2)
    p.add_argument('--clock', choices=['cpu', 'wall'], default=None,
                   help='process CPU time (1 thread; default on CPU) or wall time')
    p.add_argument('--threads', type=int, default=0,
                   help='torch CPU threads (default: 1 with --clock cpu, else torch\'s)')
    p.add_argument('--device', default='cpu')
    args = p.parse_args()
    if args.clock is None:
        args.clock = 'cpu' if args.device == 'cpu' else 'wall'
    if args.clock == 'cpu' and args.device != 'cpu':
        p.error('--clock cpu measures CPU work only; use --clock wall on a GPU')
    if args.threads or args.clock == 'cpu':
        torch.set_num_threads(args.threads or 1)
    print(f'EARL overhead at {args.size} px, batch {args.batch}, {args.boxes} boxes/image, '
          f'device {args.device}, {args.clock} clock, {torch.get_num_threads()} thread(s); '
          f'plain and EARL interleaved; medians')
    print(f'{"head":7s} | {args.mode + " plain":>11s} {args.mode + " EARL":>10s} '
          f'{"ratio":>6s} | {"EARL extra in the loss (95% CI)":>32s} | '
          f'{"overhead = 1 + extra / " + args.mode + " time":>30s}')
    worst = 0.0
    for name in args.heads:
        r = bench_head(name, args)
        main_r = r[args.mode]
        line = (f'{name:7s} | {main_r["plain"]:10.4f}s {main_r["earl"]:9.4f}s '
                f'{main_r["earl"] / main_r["plain"]:6.3f} |')
        if 'loss' in r:
            d, lo, hi = r['loss']['diff']
            overhead = 1 + d / main_r['plain']
            worst = max(worst, 1 + hi / main_r['plain'])
            line += (f' {1e3 * d:+8.2f} ms [{1e3 * lo:+7.2f}, {1e3 * hi:+7.2f}]  |'
                     f' {overhead:8.4f} (CI high {1 + hi / main_r["plain"]:.4f})')
        print(line, flush=True)
    if worst:
        print(f'worst overhead (upper 95% bound): {worst:.4f} (target <= 1.02)')


if __name__ == '__main__':
    main()
