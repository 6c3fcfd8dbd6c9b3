r"""Draw the readers' boxes next to the fused boxes and their confidence (paper Fig. 2).

Example::

    python tools/analysis/show_fusion.py \
        data/med_mnist/annotations/train_multi_reader.json \
        --img-dir data/med_mnist/images/train --num 4 \
        --method wbf --iou-thr 0.4 --out work_dirs/show_fusion.png
"""
import argparse
import os
import os.path as osp
import sys

from mmmulti.analysis.reader_agreement import build_consensus_fusion
from mmmulti.fusion.params import check_iou_thr
from mmmulti.utils.cli_errors import add_debug_flag, cli_entry
from mmmulti.utils.output_guard import check_output_file
from mmmulti.visualization import fusion_examples, plot_fusion_comparison


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter,
                     argparse.RawDescriptionHelpFormatter):
    """Keeps the examples' layout and shows defaults."""


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=_HelpFormatter)
    p.add_argument('ann', help='multi-reader COCO file')
    p.add_argument('--img-dir', required=True, help='folder the file_name entries are in')
    p.add_argument('--out', required=True, help='output figure (.png)')
    sel = p.add_mutually_exclusive_group()
    sel.add_argument('--image-ids', nargs='+', default=None,
                     help='COCO image ids or file names to draw')
    sel.add_argument('--num', type=int, default=4,
                     help='draw this many random images that have boxes')
    p.add_argument('--seed', type=int, default=0, help='seed of the random choice')
    p.add_argument('--method', default='wbf', help='fusion method (wbf, majority_vote, ...)')
    p.add_argument('--iou-thr', type=float, default=0.4, help='fusion IoU threshold')
    p.add_argument('--readers', nargs='+', default=None, help='only these readers')
    p.add_argument('--reader-key', default='reader', help='annotation key of the reader id')
    p.add_argument('--overwrite', action='store_true',
                   help='allow --out to be an input file or to lie in --img-dir')
    add_debug_flag(p)
    return p.parse_args(argv)


@cli_entry
def main(argv=None) -> int:
    a = parse_args(argv)
    if a.image_ids is None and a.num < 1:
        raise ValueError(f'--num must be >= 1, got {a.num}')
    check_iou_thr(a.iou_thr, '--iou-thr')
    build_consensus_fusion(a.method, a.iou_thr)  # an unknown method: before loading
    # a figure written over a training image, or over the annotation file
    check_output_file(a.out, [a.ann], [a.img_dir], overwrite=a.overwrite)
    items, class_names, readers = fusion_examples(
        a.ann, a.img_dir, image_ids=a.image_ids, num=a.num, method=a.method,
        iou_thr=a.iou_thr, seed=a.seed, readers=a.readers, reader_key=a.reader_key)
    os.makedirs(osp.dirname(osp.abspath(a.out)), exist_ok=True)
    plot_fusion_comparison(items, a.out, class_names, readers,
                           title=f'Readers\' boxes (left) and {a.method} fusion, '
                           f'IoU {a.iou_thr} (right)')
    print(f'wrote {a.out} ({len(items)} images)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
