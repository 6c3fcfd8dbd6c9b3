"""Training-step speed of our YOLOv5-S against mmdet's YOLOX-S.

Both detectors are built from configs (ours: ``configs/_base_/models/yolov5_s.py``;
baseline: the model of mmdet's ``yolox/yolox_s_8xb8-300e_coco.py``, with its
random-resize batch augment removed so both see the same input size), 80
classes, the same seeded batch of images and boxes. One step = data
preprocessor + ``model.loss`` + backward + SGD step. Steps alternate between
the two models (interleaved repeats, after warm-up) in the same process; the
median per-step time of each and the ratio ours / baseline are printed
(target <= 1.0).

    python benchmarks/bench_detectors.py --size 640 --batch 2 --repeats 3
"""
import argparse
import os.path as osp
import statistics
import time

import mmdet
import torch
from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

import mmmulti  # noqa: F401  (registers the mmmulti scope)
from mmmulti.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def make_batch(batch: int, size: int, num_boxes: int, num_classes: int, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    inputs, samples = [], []
    for _ in range(batch):
        inputs.append(torch.randint(0, 256, (3, size, size), dtype=torch.uint8, generator=g))
        xy = torch.rand(num_boxes, 2, generator=g) * size * 0.7
        wh = (torch.rand(num_boxes, 2, generator=g) * 0.25 + 0.03) * size
        boxes = torch.cat([xy, (xy + wh).clamp(max=size - 1)], 1)
        ds = DetDataSample(metainfo=dict(img_shape=(size, size), ori_shape=(size, size),
                                         pad_shape=(size, size), scale_factor=(1.0, 1.0)))
        ds.gt_instances = InstanceData(
            bboxes=boxes, labels=torch.randint(0, num_classes, (num_boxes, ), generator=g))
        samples.append(ds)
    return dict(inputs=inputs, data_samples=samples)


def build_models(num_classes: int):
    init_default_scope('mmmulti')
    ours = Config.fromfile(osp.join(ROOT, 'configs/_base_/models/yolov5_s.py')).model
    ours.bbox_head.num_classes = num_classes
    yolox = Config.fromfile(osp.join(osp.dirname(mmdet.__file__), '.mim', 'configs', 'yolox',
                                     'yolox_s_8xb8-300e_coco.py')).model
    yolox.bbox_head.num_classes = num_classes
    yolox.data_preprocessor.pop('batch_augments', None)
    # mmdet's YOLOX types resolve through the mmmulti registry's parent (mmdet)
    return MODELS.build(ours), MODELS.build(yolox)


def make_step(model: torch.nn.Module, data: dict):
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)

    def step() -> float:
        t0 = time.perf_counter()
        batch = model.data_preprocessor(data, True)
        losses = model.loss(batch['inputs'], batch['data_samples'])
        loss, _ = model.parse_losses(losses)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return time.perf_counter() - t0

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--size', type=int, default=640, help='input size (px)')
    parser.add_argument('--batch', type=int, default=2, help='images per step')
    parser.add_argument('--boxes', type=int, default=8, help='gt boxes per image')
    parser.add_argument('--classes', type=int, default=80)
    parser.add_argument('--warmup', type=int, default=1, help='untimed steps per model')
    parser.add_argument('--repeats', type=int, default=3, help='timed steps per model')
    parser.add_argument('--threads', type=int, default=0, help='torch threads (0: keep)')
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    ours, baseline = build_models(args.classes)
    data = make_batch(args.batch, args.size, args.boxes, args.classes)
    steps = {'YOLOv5-S (mmmulti)': make_step(ours, data),
             'YOLOX-S (mmdet)': make_step(baseline, data)}
    params = {'YOLOv5-S (mmmulti)': ours, 'YOLOX-S (mmdet)': baseline}
    for step in steps.values():
        for _ in range(args.warmup):
            step()
    times = {k: [] for k in steps}
    for r in range(args.repeats):
        for name, step in steps.items():  # interleaved: A B A B ...
            times[name].append(step())
        print(f'repeat {r + 1}/{args.repeats}: ' +
              ', '.join(f'{k} {v[-1]:.2f} s' for k, v in times.items()), flush=True)
    print(f'\ntraining step, {args.batch} x {args.size} px, CPU '
          f'({torch.get_num_threads()} threads), median of {args.repeats}:')
    med = {k: statistics.median(v) for k, v in times.items()}
    for k, v in med.items():
        n = sum(p.numel() for p in params[k].parameters()) / 1e6
        print(f'  {k:20s} {v:7.2f} s/step  {args.batch / v:6.2f} img/s  ({n:.2f} M params)')
    ours_t, base_t = med['YOLOv5-S (mmmulti)'], med['YOLOX-S (mmdet)']
    paired = statistics.median(a / b for a, b in zip(*times.values()))
    print(f'  ratio ours / baseline: {ours_t / base_t:.3f} (target <= 1.0); '
          f'median of per-repeat ratios {paired:.3f}')


if __name__ == '__main__':
    main()
