"""Readers ensemble: fuse several models' predictions with WBF, then score them.

Each input is a tools/test.py --out .pkl or a COCO results .json of the same
test set (one model per reader). Boxes are fused image by image with Weighted
Boxes Fusion (boxes normalised by each image's size from --gt), written as
COCO results json to --out and scored against --gt.
"""
import argparse
import json
import sys

from mmmulti.evaluation import (CONF_TYPES, PAPER_IOU_THR, dump_predictions,
                                ensemble_predictions, evaluate_coco_results,
                                format_results_table, image_sizes, load_coco_gt,
                                load_predictions, map_key, scalar_metrics)
from mmmulti.fusion.params import check_iou_thr, check_unit_interval, check_weight_list
from mmmulti.utils.cli_errors import add_debug_flag, cli_entry
from mmmulti.utils.output_guard import check_output_file


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('preds', nargs='+', help='prediction files (.pkl or COCO results .json)')
    p.add_argument('--gt', required=True, help='gt COCO json of the test set (image sizes, '
                                               'category ids, scoring)')
    p.add_argument('--out', required=True, help='fused COCO results json to write')
    p.add_argument('--weights', type=float, nargs='+', help='one weight per input (default 1)')
    p.add_argument('--iou-thr', type=float, default=0.55, help='WBF IoU threshold (0.55)')
    p.add_argument('--skip-box-thr', type=float, default=0.0,
                   help='WBF ignores boxes scored below this (0.0)')
    p.add_argument('--conf-type', choices=CONF_TYPES, default='avg',
                   help='WBF confidence rule (avg)')
    p.add_argument('--classes', nargs='+',
                   help='model classes (maps .pkl label indices to gt categories; '
                        'default: every gt category in file order)')
    p.add_argument('--no-eval', action='store_true', help='only write --out')
    p.add_argument('--no-finding', action='store_true',
                   help='score with the VinBigData "No finding" convention')
    p.add_argument('--no-finding-class', type=int, default=14,
                   help='category id of "No finding" (default 14)')
    p.add_argument('--json', action='store_true',
                   help='print the metrics as one JSON line (last line of stdout)')
    p.add_argument('--overwrite', action='store_true',
                   help='allow --out to be one of the input files')
    add_debug_flag(p)
    return p.parse_args(argv)


@cli_entry
def main(argv=None) -> int:
    args = parse_args(argv)
    # WBF's range: a box joins a cluster at IoU > thr, so 1 would merge nothing
    check_iou_thr(args.iou_thr, '--iou-thr', allow_one=False)
    check_unit_interval(args.skip_box_thr, '--skip-box-thr')
    check_weight_list(args.weights, len(args.preds), '--weights')
    check_output_file(args.out, [*args.preds, args.gt], overwrite=args.overwrite)
    coco_gt = load_coco_gt(args.gt)
    sets = [load_predictions(path, coco_gt, classes=args.classes) for path in args.preds]
    for path, preds in zip(args.preds, sets):
        print(f'{path}: {len(preds)} predictions')
    fused = ensemble_predictions(sets, image_sizes(coco_gt), weights=args.weights,
                                 iou_thr=args.iou_thr, skip_box_thr=args.skip_box_thr,
                                 conf_type=args.conf_type, progress=True)
    dump_predictions(fused, args.out)
    print(f'{args.out}: {len(fused)} fused predictions')
    if args.no_eval:
        return 0
    no_finding = dict(enable=True, class_id=args.no_finding_class) if args.no_finding else None
    scores = evaluate_coco_results(coco_gt, fused, no_finding=no_finding)
    print(format_results_table(scores))
    mk = map_key(PAPER_IOU_THR)
    print(f'{mk}: {scores[mk]:.4f}   map_50_95: {scores["map_50_95"]:.4f}')
    if args.json:
        out = dict(scalar_metrics(scores), per_class=scores['per_class'],
                   num_predictions=len(fused), out=args.out)
        print(json.dumps(out))
    return 0


if __name__ == '__main__':
    sys.exit(main())
