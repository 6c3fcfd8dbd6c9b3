"""Print a parameter table for the YOLOv5 (n-x) and EfficientDet (D0-D4) base models.

Each model is built from ``configs/_base_/models/<name>.py`` (80 classes for
YOLOv5, 90 for EfficientDet unless ``--num-classes`` is given) and compared
with the published count (YOLOv5 v6/v7 model table, EfficientDet paper Table 2).

    python tools/analysis/count_params.py
    python tools/analysis/count_params.py --models yolov5_s efficientdet_d0 --num-classes 14
"""
import argparse
import os.path as osp
import sys

from mmmulti.utils.cli_errors import add_debug_flag, cli_entry

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# name: (classes of the published count, published parameters in millions)
PUBLISHED = {
    'yolov5_n': (80, 1.9), 'yolov5_s': (80, 7.2), 'yolov5_m': (80, 21.2),
    'yolov5_l': (80, 46.5), 'yolov5_x': (80, 86.7),
    'efficientdet_d0': (90, 3.9), 'efficientdet_d1': (90, 6.6), 'efficientdet_d2': (90, 8.1),
    'efficientdet_d3': (90, 12.0), 'efficientdet_d4': (90, 20.7),
}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--models', nargs='+', default=list(PUBLISHED),
                        help='base model config names (configs/_base_/models/NAME.py)')
    parser.add_argument('--num-classes', type=int, default=None,
                        help='classes to build with (default: those of the published count)')
    parser.add_argument('--config-dir', default=osp.join(ROOT, 'configs', '_base_', 'models'))
    add_debug_flag(parser)
    return parser.parse_args(argv)


@cli_entry
def main(argv=None) -> int:
    args = parse_args(argv)
    if args.num_classes is not None and args.num_classes < 1:
        raise ValueError(f'--num-classes must be >= 1, got {args.num_classes}')
    paths = {name: osp.join(args.config_dir, f'{name}.py') for name in args.models}
    missing = [p for p in paths.values() if not osp.isfile(p)]
    if missing:  # checked before the (slow) mmdet import
        raise SystemExit(f'count_params: no config {", ".join(missing)}')
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from mmmulti.registry import MODELS
    init_default_scope('mmmulti')
    print('| model | classes | parameters | M | published M | diff |')
    print('|---|---|---|---|---|---|')
    for name, path in paths.items():
        cfg = Config.fromfile(path)
        ref_classes, ref_m = PUBLISHED.get(name, (None, None))
        classes = args.num_classes or ref_classes or cfg.model.bbox_head.num_classes
        cfg.model.bbox_head.num_classes = classes
        n = sum(p.numel() for p in MODELS.build(cfg.model).parameters())
        same = ref_m is not None and classes == ref_classes
        pub = f'{ref_m:.1f}' if same else '-'
        diff = f'{(n / 1e6 - ref_m) / ref_m * 100:+.1f} %' if same else '-'
        print(f'| {name} | {classes} | {n:,} | {n / 1e6:.2f} | {pub} | {diff} |', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
