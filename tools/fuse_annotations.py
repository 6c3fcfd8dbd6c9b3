"""Truth inference: fuse the readers' boxes of a multi-reader COCO file.

Example:
    python tools/fuse_annotations.py data/train_readers.json data/train_wbf.json \
        --method wbf --iou-thr 0.4
    # each fused box weighted by the posterior that it is a real finding
    python tools/fuse_annotations.py data/train_readers.json data/train_presence.json \
        --method presence_wbf
"""
import argparse
import sys

from mmmulti.fusion import METHOD_ALIASES, build_fusion
from mmmulti.fusion.pipeline import fuse_coco_file
from mmmulti.fusion.summary import fusion_summary
from mmmulti.utils.atomic import check_not_input


def parse_reader_weights(items):
    if not items:
        return None
    weights = {}
    for item in items:
        reader, sep, value = item.rpartition('=')
        if not sep or not reader:
            raise SystemExit(f'--reader-weights: expected READER=WEIGHT, got {item!r}')
        try:
            weights[reader] = float(value)
        except ValueError:
            raise SystemExit(f'--reader-weights: {item!r}: weight is not a number')
    return weights


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog='methods: ' + ', '.join(METHOD_ALIASES))
    p.add_argument('input', help='multi-reader COCO json')
    p.add_argument('output', help='fused COCO json to write')
    p.add_argument('--method', default='wbf', help='fusion method (case-insensitive)')
    p.add_argument('--iou-thr', type=float, default=None, help='IoU threshold (default 0.4)')
    p.add_argument('--skip-box-thr', type=float, default=None, help='WBF/NMW: skip boxes '
                   'scoring below')
    p.add_argument('--conf-type', default=None, help="WBF: ensemble_boxes conf_type "
                   "(used with --score-mode wbf)")
    p.add_argument('--score-mode', default=None, help="WBF: 'agreement' (default) or 'wbf'; "
                   "NMS/SoftNMS/NMW: 'agreement' or 'method'")
    p.add_argument('--reader-weights', nargs='+', metavar='READER=W', default=None,
                   help='WBF/NMS/SoftNMS/NMW reader weights')
    p.add_argument('--reader', default=None, help='single_reader: the reader to keep')
    p.add_argument('--min-confidence', type=float, default=None,
                   help='presence_wbf: drop clusters whose posterior of being a real '
                   'finding is below this (default 0.5; 0 keeps all)')
    p.add_argument('--readers', nargs='+', default=None, help='use only these readers')
    p.add_argument('--reader-key', default='reader', help='annotation key of the reader id')
    p.add_argument('--strict-geometry', action='store_true',
                   help='fail on a bad box instead of dropping and counting it')
    p.add_argument('--overwrite', action='store_true',
                   help='allow OUTPUT to be INPUT (replaces the readers\' boxes)')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        check_not_input(args.output, [args.input], args.overwrite)
        method = build_fusion(args.method, iou_thr=args.iou_thr,
                              skip_box_thr=args.skip_box_thr, conf_type=args.conf_type,
                              score_mode=args.score_mode,
                              reader_weights=parse_reader_weights(args.reader_weights),
                              reader=args.reader, min_confidence=args.min_confidence)
        src, fused, seconds = fuse_coco_file(args.input, args.output, method,
                                             reader_key=args.reader_key,
                                             readers=args.readers,
                                             strict_geometry=args.strict_geometry)
    except (ValueError, TypeError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    print(f'{args.input} -> {args.output}')
    print(fusion_summary(src.reads, fused, method, seconds, drops=src.drops))
    if hasattr(method, 'report'):
        print(method.report())
    return 0


if __name__ == '__main__':
    sys.exit(main())
