r"""Held-out-reader validation of fusion methods: no images and no clean truth needed.

Example::

    python tools/analysis/heldout_reader.py \
        data/med_mnist_vindr_like/annotations/train_multi_reader.json \
        --methods wbf presence_wbf calibrated_wbf --out work_dirs/heldout
    # a method with options; simulated data: also score against the clean boxes
    python tools/analysis/heldout_reader.py ANN.json \
        --methods wbf "presence_wbf:min_confidence=0" --truth TRUTH.json --out DIR

On every image read by >= --min-readers readers, each reader is held out in
turn, the others are fused, and a fused box counts as confirmed when the
held-out reader drew a box of the same class at IoU >= --iou-thr. Writes
DIR/heldout.json, DIR/heldout.md and DIR/reliability.png (docs/heldout.md).
"""
import argparse
import os
import os.path as osp
import sys
import time
import warnings

from mmmulti.analysis.truth import load_aligned_truth
from mmmulti.analysis.heldout import format_markdown, heldout_validation, parse_method_spec
from mmmulti.fusion import METHOD_ALIASES
from mmmulti.fusion.base import EMNotConvergedWarning
from mmmulti.io import load_multi_reader_coco
from mmmulti.io.require import require_readers
from mmmulti.utils.atomic import atomic_write, dump_json_atomic
from mmmulti.utils.cli_errors import add_debug_flag, cli_entry
from mmmulti.utils.output_guard import check_output_dir

OUTPUTS = ('heldout.json', 'heldout.md', 'reliability.png')


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog='methods: ' + ', '.join(METHOD_ALIASES)
                                + '; options as NAME:key=value,key=value')
    p.add_argument('ann', help='multi-reader COCO file (readers\' boxes)')
    p.add_argument('--methods', nargs='+', default=['wbf', 'presence_wbf', 'calibrated_wbf'])
    p.add_argument('--iou-thr', type=float, default=0.4,
                   help='IoU of a confirmation (same class); also the fusion IoU threshold '
                   'of methods that take one, unless set in their options')
    p.add_argument('--min-readers', type=int, default=3,
                   help='use images read by at least this many readers')
    p.add_argument('--truth', default=None,
                   help='simulated data: COCO file of the clean boxes of the same images')
    p.add_argument('--reader-key', default='reader', help='annotation key of the reader id')
    p.add_argument('--out', required=True, help='output folder')
    p.add_argument('--quiet', action='store_true', help='no progress lines')
    p.add_argument('--overwrite', action='store_true',
                   help='allow an output file to be an input file')
    add_debug_flag(p)
    return p.parse_args(argv)


@cli_entry
def main(argv=None) -> int:
    a = parse_args(argv)
    t0 = time.perf_counter()
    log = (lambda msg: None) if a.quiet else (
        lambda msg: print(f'[heldout {time.perf_counter() - t0:6.1f} s] {msg}', flush=True))
    try:
        if not (0.0 < a.iou_thr <= 1.0):
            raise ValueError(f'--iou-thr must be in (0, 1], got {a.iou_thr}')
        if a.min_readers < 3:
            raise ValueError(f'--min-readers must be >= 3, got {a.min_readers}')
        specs = [parse_method_spec(m) for m in a.methods]
        check_output_dir(a.out, OUTPUTS, [a.ann, a.truth], overwrite=a.overwrite)
        src = load_multi_reader_coco(a.ann, reader_key=a.reader_key)
        require_readers(src, a.ann, 'hold out')
        if not src.reads:
            raise ValueError(f'{a.ann}: no images')
        truth = load_aligned_truth(a.truth, src) if a.truth else None
        log(f'{a.ann}: {len(src.reads)} images, readers {", ".join(src.readers[:10])}'
            f'{" ..." if len(src.readers) > 10 else ""}')
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always', EMNotConvergedWarning)
            report = heldout_validation(src.reads, specs, iou_thr=a.iou_thr,
                                        min_readers=a.min_readers, truth=truth, log=log,
                                        source=a.ann)
    except (ValueError, TypeError, KeyError) as e:
        if a.debug:
            raise
        print(f'error: {" ".join(str(e).split())}', file=sys.stderr)
        return 2
    em_warnings = sorted({str(w.message) for w in caught
                          if issubclass(w.category, EMNotConvergedWarning)})
    report['em_warnings'] = em_warnings
    for w in em_warnings:
        print(f'WARNING: {w}', file=sys.stderr)
    os.makedirs(a.out, exist_ok=True)
    dump_json_atomic(report, osp.join(a.out, 'heldout.json'), indent=1)
    md = format_markdown(report)
    with atomic_write(osp.join(a.out, 'heldout.md')) as f:
        f.write(md)
    from mmmulti.visualization import plot_reliability
    plot_reliability(report, osp.join(a.out, 'reliability.png'))
    print(md.split('\n## ')[0].split('\n', 4)[-1])
    print(f'wrote {a.out}/heldout.json, heldout.md, reliability.png '
          f'({time.perf_counter() - t0:.1f} s)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
