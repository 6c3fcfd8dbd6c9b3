r"""Agreement of each reader with the fused consensus and between readers.

Example::

    python tools/analysis/reader_agreement.py \
        data/med_mnist/annotations/train_multi_reader.json \
        --method wbf --iou-thr 0.4 --out-dir work_dirs/reader_agreement

Prints the tables and writes OUT_DIR/reader_agreement.{json,png}.
"""
import argparse
import os
import os.path as osp
import sys

from mmmulti.analysis.reader_agreement import (build_consensus_fusion,
                                               reader_agreement_from_file)
from mmmulti.fusion.params import check_iou_thr
from mmmulti.visualization import plot_reader_agreement
from mmmulti.utils.cli_errors import add_debug_flag, cli_entry
from mmmulti.utils.output_guard import check_output_dir

OUTPUTS = ('reader_agreement.json', 'reader_agreement.png')


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter,
                     argparse.RawDescriptionHelpFormatter):
    """Keeps the examples' layout and shows defaults."""


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=_HelpFormatter)
    p.add_argument('ann', help='multi-reader COCO file')
    p.add_argument('--out-dir', required=True, help='folder for reader_agreement.{json,png}')
    p.add_argument('--method', default='wbf',
                   help='fusion method making the consensus (wbf, majority_vote, nms, ...)')
    p.add_argument('--iou-thr', type=float, default=0.4,
                   help='IoU to match boxes (same class); also the fusion IoU threshold '
                   'unless --fusion-iou-thr is given')
    p.add_argument('--fusion-iou-thr', type=float, default=None,
                   help='IoU threshold of the fusion, if different from --iou-thr')
    p.add_argument('--min-agreement', type=int, default=2,
                   help='consensus = fused boxes at least this many readers agree on '
                   '(1: every fused box, which includes each reader\'s own boxes)')
    p.add_argument('--readers', nargs='+', default=None, help='only these readers')
    p.add_argument('--reader-key', default='reader', help='annotation key of the reader id')
    p.add_argument('--overwrite', action='store_true',
                   help='allow an output file to be the input file')
    add_debug_flag(p)
    return p.parse_args(argv)


@cli_entry
def main(argv=None) -> int:
    a = parse_args(argv)
    check_iou_thr(a.iou_thr, '--iou-thr')
    fusion_iou = a.iou_thr if a.fusion_iou_thr is None else a.fusion_iou_thr
    check_iou_thr(fusion_iou, '--fusion-iou-thr')
    if a.min_agreement < 1:
        raise ValueError(f'--min-agreement must be >= 1, got {a.min_agreement}')
    # an unknown method or a threshold the method refuses: before loading
    build_consensus_fusion(a.method, fusion_iou)
    check_output_dir(a.out_dir, OUTPUTS, [a.ann], overwrite=a.overwrite)
    report = reader_agreement_from_file(
        a.ann, method=a.method, iou_thr=a.iou_thr, fusion_iou_thr=a.fusion_iou_thr,
        readers=a.readers, min_agreement=a.min_agreement, reader_key=a.reader_key)
    print(report.format())
    os.makedirs(a.out_dir, exist_ok=True)
    report.dump(osp.join(a.out_dir, 'reader_agreement.json'))
    png = osp.join(a.out_dir, 'reader_agreement.png')
    plot_reader_agreement(report, png)
    print(f'\nwrote {png} and reader_agreement.json')
    return 0


if __name__ == '__main__':
    sys.exit(main())
