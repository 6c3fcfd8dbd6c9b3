"""EARL overhead: training-step time with and without EARL, same run.

For each head, a plain and an EARL detector with identical weights take
turns (interleaved, order alternating) on the same 640 px batch; the script
prints the median times and the overhead ratio EARL / plain (target <= 1.02).

    python benchmarks/bench_earl.py                      # full train step, CPU
    python benchmarks/bench_earl.py --mode head --repeats 30
    python benchmarks/bench_earl.py --heads retina yolox fcos atss --device cuda

``--mode step``: ``model.train_step`` (forward, loss, backward, SGD step with
lr 0 so the weights stay fixed). ``--mode head``: the dense head alone on
fixed neck features (forward, loss, backward): EARL's whole cost lives there,
so this is the strict figure. ``--mode loss``: head forward and loss without
backward, where EARL's extra work is the largest share (an upper bound).

``--clock cpu`` (default on CPU) times this process's CPU time with one torch
thread, which other jobs on a shared machine barely disturb; ``--clock wall``
times wall-clock (use it on a quiet machine or a GPU).
"""
import argparse
import copy
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


def bench_head(name: str, args) -> tuple:
    with DefaultScope.overwrite_default_scope('mmmulti'):
        torch.manual_seed(0)
        plain = MODELS.build(detector_cfg(name, earl=False)).to(args.device)
        earl = MODELS.build(detector_cfg(name, earl=True)).to(args.device)
    earl.load_state_dict(plain.state_dict())
    plain.train()
    earl.train()
    batch = make_batch(args.size, args.batch, args.boxes, args.device)
    runs = dict(plain=step_runner(plain, batch, args.mode, args.device),
                earl=step_runner(earl, batch, args.mode, args.device))
    times = dict(plain=[], earl=[])
    clock = time.process_time if args.clock == 'cpu' else time.perf_counter
    for rep in range(args.warmup + args.repeats):
        order = ('plain', 'earl') if rep % 2 == 0 else ('earl', 'plain')
        for key in order:
            sync(args.device)
            t0 = clock()
            runs[key]()
            sync(args.device)
            if rep >= args.warmup:
                times[key].append(clock() - t0)
    t_plain = statistics.median(times['plain'])
    t_earl = statistics.median(times['earl'])
    # paired ratio: each repeat's EARL time over the plain time next to it
    paired = statistics.median(e / p for e, p in zip(times['earl'], times['plain']))
    # noise on a shared machine only adds time: the fastest runs show the cost
    fastest = min(times['earl']) / min(times['plain'])
    return t_plain, t_earl, t_earl / t_plain, fastest, paired


def main() -> None:
    p = argparse.ArgumentParser(description='EARL overhead on a training step')
    p.add_argument('--heads', nargs='+', default=['retina', 'yolox'], choices=list(HEADS))
    p.add_argument('--mode', choices=['step', 'head', 'loss'], default='step',
                   help='full train step; the dense head forward+loss+backward; '
                   'or the head forward+loss alone (no backward)')
    p.add_argument('--size', type=int, default=640, help='image size (px)')
    p.add_argument('--batch', type=int, default=2, help='images per batch')
    p.add_argument('--boxes', type=int, default=8, help='gt boxes per image')
    p.add_argument('--repeats', type=int, default=10, help='timed repeats per model')
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
    print(f'EARL overhead, mode={args.mode}, {args.size} px, batch {args.batch}, '
          f'{args.boxes} boxes/image, device {args.device}, {args.clock} clock, '
          f'{torch.get_num_threads()} thread(s), '
          f'{args.repeats} interleaved repeats (median)')
    print(f'{"head":8s} {"plain s":>9s} {"EARL s":>9s} {"ratio":>7s} {"min":>7s} '
          f'{"paired":>7s}   (ratio of medians, of fastest runs, median of pairs)')
    worst = 0.0
    for name in args.heads:
        t_plain, t_earl, ratio, fastest, paired = bench_head(name, args)
        worst = max(worst, paired)
        print(f'{name:8s} {t_plain:9.4f} {t_earl:9.4f} {ratio:7.3f} {fastest:7.3f} '
              f'{paired:7.3f}   EARL extra {1e3 * (t_earl - t_plain):+.1f} ms', flush=True)
    print(f'worst paired overhead ratio: {worst:.3f} (target <= 1.02)')


if __name__ == '__main__':
    main()
