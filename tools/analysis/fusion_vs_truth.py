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
import sys

from mmmulti.analysis.fusion_vs_truth import format_table, target_quality
from mmmulti.analysis.truth import load_aligned_truth
from mmmulti.fusion import METHOD_ALIASES, build_fusion
from mmmulti.fusion.params import check_iou_thr
from mmmulti.fusion.registry_names import takes_option
from mmmulti.io import load_multi_reader_coco
from mmmulti.io.require import require_readers
from mmmulti.utils.atomic import dump_json_atomic
from mmmulti.utils.cli_errors import add_debug_flag, cli_entry
from mmmulti.utils.output_guard import check_output_file


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
    p.add_argument('--overwrite', action='store_true',
                   help='allow --out to be one of the input files')
    add_debug_flag(p)
    return p.parse_args(argv)


@cli_entry
def main(argv=None) -> int:
    a = parse_args(argv)
    # every parameter and the output before any work
    check_iou_thr(a.iou_thr, '--iou-thr')
    check_iou_thr(a.fusion_iou_thr, '--fusion-iou-thr')
    if a.out:
        check_output_file(a.out, [a.readers, a.truth], overwrite=a.overwrite)
    methods = []
    for name in a.methods:
        # the threshold goes to every method that takes one; an out-of-range
        # value is the method's error, never a silent fall-back to its default
        options = dict(iou_thr=a.fusion_iou_thr) if takes_option(name, 'iou_thr') else {}
        methods.append((name, build_fusion(name, progress=False, **options)))
    src = load_multi_reader_coco(a.readers)
    require_readers(src, a.readers, 'fuse')
    true_reads = load_aligned_truth(a.truth, src)
    rows = [target_quality(name, method.fuse_dataset(src.reads), true_reads,
                           iou_thr=a.iou_thr) for name, method in methods]
    print(format_table(rows))
    if a.out:
        dump_json_atomic([q.as_dict() for q in rows], a.out, indent=1)
        print(f'wrote {a.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
