r"""Score fusion methods' training targets against the clean truth (simulated data).

Example::

    python tools/analysis/fusion_vs_truth.py \
        data/med_mnist_mini_vindr_like/annotations/train_multi_reader.json \
        data/med_mnist_mini_vindr_like/annotations/train.json \
        --methods all_boxes wbf soft_wbf presence_wbf --out work_dirs/fusion_vs_truth.json

Prints, per method: fused boxes, the share that are real (IoU >= --iou-thr with
a true box), the share of the EARL weight on the others, the true boxes kept,
their class accuracy and mean IoU (mmmulti/analysis/fusion_vs_truth.py).
"""
import argparse
import json
import sys

from mmmulti.analysis.fusion_vs_truth import format_table, target_quality
from mmmulti.analysis.truth import load_aligned_truth
from mmmulti.fusion import METHOD_ALIASES, build_fusion
from mmmulti.io import load_multi_reader_coco


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog='methods: ' + ', '.join(METHOD_ALIASES))
    p.add_argument('readers', help='multi-reader COCO json (the readers\' boxes)')
    p.add_argument('truth', help='COCO json of the clean boxes of the same images')
    p.add_argument('--methods', nargs='+', default=['all_boxes', 'wbf', 'soft_wbf',
                                                       'presence_wbf'])
    p.add_argument('--fusion-iou-thr', type=float, default=0.4,
                   help='IoU threshold of the fusion methods that take one')
    p.add_argument('--iou-thr', type=float, default=0.4,
                   help='IoU at which a fused box counts as a true box')
    p.add_argument('--out', help='also write the scores to this json')
    return p.parse_args(argv)


def main(argv=None) -> int:
    a = parse_args(argv)
    try:
        src = load_multi_reader_coco(a.readers)
        true_reads = load_aligned_truth(a.truth, src)
        rows = []
        for name in a.methods:
            try:
                method = build_fusion(name, iou_thr=a.fusion_iou_thr, progress=False)
            except ValueError:  # a method without an IoU threshold (all_boxes)
                method = build_fusion(name, progress=False)
            rows.append(target_quality(name, method.fuse_dataset(src.reads), true_reads,
                                       iou_thr=a.iou_thr))
    except (ValueError, TypeError, OSError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    print(format_table(rows))
    if a.out:
        with open(a.out, 'w') as f:
            json.dump([q.as_dict() for q in rows], f, indent=1)
        print(f'wrote {a.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
