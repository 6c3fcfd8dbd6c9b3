"""Score a COCO results file (or a tools/test.py --out pickle) against a gt json.

Prints the per-class table with mAP@0.4 (paper / VinBigData) and COCO
mAP@[.5:.95]; with --json the last stdout line is one JSON object.
"""
import argparse
import json
import sys

from mmmulti.evaluation import (PAPER_IOU_THR, ap_key, evaluate_coco_results,
                                format_results_table, load_coco_gt, load_predictions, map_key)
from mmmulti.fusion.params import check_iou_thr, check_unit_interval
from mmmulti.utils.cli_errors import add_debug_flag, cli_entry


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--gt', required=True, help='ground-truth COCO json')
    p.add_argument('--pred', required=True,
                   help='COCO results json [{image_id, category_id, bbox xywh, score}] '
                        'or a tools/test.py --out .pkl')
    p.add_argument('--classes', nargs='+',
                   help='model classes (maps .pkl label indices to gt categories; '
                        'default: every gt category in file order)')
    p.add_argument('--iou-thr', type=float, default=PAPER_IOU_THR,
                   help='IoU threshold of the paper mAP (default 0.4 -> key map_40)')
    p.add_argument('--no-finding', action='store_true',
                   help='VinBigData convention: images without gt boxes count as a '
                        '"No finding" box 0,0,1,1 (see docs)')
    p.add_argument('--no-finding-class', type=int, default=14,
                   help='category id of "No finding" (default 14)')
    p.add_argument('--no-finding-score', choices=['complement', 'constant'],
                   default='complement',
                   help='"No finding" prediction score: 1 - max detection score of '
                        'the image (complement) or 1 on images with nothing above '
                        '--no-finding-score-thr (constant)')
    p.add_argument('--no-finding-score-thr', type=float, default=0.0,
                   help='detections below this score are ignored by the convention')
    p.add_argument('--json', action='store_true',
                   help='print the result as one JSON line (last line of stdout)')
    add_debug_flag(p)
    return p.parse_args(argv)


@cli_entry
def main(argv=None) -> int:
    args = parse_args(argv)
    check_iou_thr(args.iou_thr, '--iou-thr')  # 1.5 would score every box a match
    check_unit_interval(args.no_finding_score_thr, '--no-finding-score-thr')
    coco_gt = load_coco_gt(args.gt)
    results = load_predictions(args.pred, coco_gt, classes=args.classes)
    no_finding = None
    if args.no_finding:
        no_finding = dict(enable=True, class_id=args.no_finding_class,
                          score_mode=args.no_finding_score,
                          score_thr=args.no_finding_score_thr)
    scores = evaluate_coco_results(coco_gt, results, iou_thr=args.iou_thr,
                                   no_finding=no_finding)
    print(format_results_table(scores, args.iou_thr))
    mk = map_key(args.iou_thr)
    print(f'{mk}: {scores[mk]:.4f}   map_50_95: {scores["map_50_95"]:.4f}   '
          f'({scores["num_images"]} images, {scores["num_predictions"]} predictions)')
    if args.json:
        ak = ap_key(args.iou_thr)
        out = {mk: scores[mk], 'map_50_95': scores['map_50_95'],
               'per_class': {name: {ak: pc[ak], 'ap_50_95': pc['ap_50_95']}
                             for name, pc in scores['per_class'].items()}}
        out.update({k: scores[k] for k in ('bbox_mAP_50', 'bbox_mAP_75', 'num_images',
                                           'num_predictions')})
        print(json.dumps(out))
    return 0


if __name__ == '__main__':
    sys.exit(main())
