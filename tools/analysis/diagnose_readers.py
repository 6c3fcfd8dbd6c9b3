r"""Diagnose a multi-reader data set: the first thing to run on new readers' boxes.

Example::

    python tools/analysis/diagnose_readers.py \
        data/med_mnist_vindr_like/annotations/train_multi_reader.json --out work_dirs/diagnosis

Writes OUT/report.md (reader table with bootstrap intervals, pairwise F1 and
Krippendorff's alpha, agreement histogram, held-out calibration of wbf,
presence_wbf and calibrated_wbf, the nearest simulator preset, a
recommendation with its evidence), the figures it links (PNG) and
OUT/diagnosis.json. Progress lines go to stderr. A file where no image has
three readers still gets a report; held-out validation is then reported as
not possible. Docs: docs/diagnosis.md.
"""
import argparse
import os.path as osp
import sys
import time

from mmmulti.analysis.diagnosis import OUTPUTS, check_outputs, diagnose, write_diagnosis
from mmmulti.utils.cli_errors import add_debug_flag, cli_entry
from mmmulti.utils.output_guard import check_output_dir


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter,
                     argparse.RawDescriptionHelpFormatter):
    """Keeps the examples' layout and shows defaults."""


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=_HelpFormatter)
    p.add_argument('ann', help='multi-reader COCO file (the readers\' boxes)')
    p.add_argument('--out', required=True, help='output folder')
    p.add_argument('--iou-thr', type=float, default=0.4,
                   help='IoU of WBF clustering and of box matching (same class)')
    p.add_argument('--bootstrap', type=int, default=30,
                   help='bootstrap resamples of the images for the reader-rate intervals '
                   '(0: none)')
    p.add_argument('--sim-images', type=int, default=300,
                   help='images simulated per preset for the nearest-preset comparison (0: skip)')
    p.add_argument('--no-heldout', action='store_true', help='skip held-out validation')
    p.add_argument('--seed', type=int, default=0, help='seed of the bootstrap and the simulation')
    p.add_argument('--reader-key', default='reader', help='annotation key of the reader id')
    p.add_argument('--quiet', action='store_true', help='no progress lines')
    p.add_argument('--overwrite', action='store_true',
                   help='allow an output file to be the input file')
    add_debug_flag(p)
    return p.parse_args(argv)


def _input_error(path: str, e: Exception) -> str:
    """``PATH: what is wrong`` (the loader names the file by its base name)."""
    msg = ' '.join(str(e).split())
    for name in (path, osp.basename(path)):
        if msg.startswith(name + ':'):
            return f'{path}:{msg[len(name) + 1:]}'
    return f'{path}: {msg}'


@cli_entry
def main(argv=None) -> int:
    a = parse_args(argv)
    t0 = time.perf_counter()
    log = (lambda msg: None) if a.quiet else (
        lambda msg: print(f'[diagnose {time.perf_counter() - t0:6.1f} s] {msg}',
                          file=sys.stderr, flush=True))
    try:
        if not 0.0 < a.iou_thr < 1.0:
            raise ValueError(f'--iou-thr must be in (0, 1), got {a.iou_thr}')
        for name in ('bootstrap', 'sim_images'):
            if getattr(a, name) < 0:
                raise ValueError(f'--{name.replace("_", "-")} must be >= 0')
        if not a.overwrite:
            check_outputs(a.out, [a.ann])
        check_output_dir(a.out, OUTPUTS, [a.ann], overwrite=a.overwrite)
    except ValueError as e:
        if a.debug:
            raise
        print(f'error: {e}', file=sys.stderr)
        return 2
    try:
        from mmmulti.io import load_multi_reader_coco
        src = load_multi_reader_coco(a.ann, reader_key=a.reader_key)
        if src.kind != 'multi_reader':
            raise ValueError(f'a {src.kind} file has no readers to diagnose (give the '
                             'readers\' boxes, not a fused or clean COCO file)')
        log(f'{a.ann}: {len(src.reads)} images, {src.num_boxes} boxes, '
            f'{len(src.readers)} readers')
        d = diagnose(src.reads, src.class_names, iou_thr=a.iou_thr, bootstrap=a.bootstrap,
                     seed=a.seed, sim_images=a.sim_images, heldout=not a.no_heldout,
                     source=a.ann, log=log)
    except (ValueError, KeyError, TypeError) as e:
        if a.debug:
            raise
        print(f'error: {_input_error(a.ann, e)}', file=sys.stderr)
        return 2
    except OSError as e:
        if a.debug:
            raise
        print(f'error: {e.filename or a.ann}: {e.strerror or e}', file=sys.stderr)
        return 2
    d['dropped_on_load'] = src.drops.as_dict()
    paths = write_diagnosis(d, a.out)  # an OS error: the entry wrapper's one line
    rec = d['recommendation']
    p = d['presets']
    print(f'{a.ann}: {d["images"]} images, {d["boxes"]} boxes, {len(d["readers"])} readers; '
          f'alpha {d["agreement"]["alpha"]:.3f}, mean pairwise F1 '
          f'{d["agreement"]["mean_pair_f1"]:.3f}')
    if d['heldout_unavailable']:
        print(d['heldout_unavailable'])
    if p['nearest']:
        print(f'nearest simulator preset: {p["nearest"]} ('
              + ', '.join(f'{k} {v:.3f}' for k, v in p['distances'].items()) + ')')
    print(f'recommendation: {rec["arm"]} (fusion {rec["fusion"]}): {rec["reason"]}')
    print(f'wrote {", ".join(osp.basename(x) for x in paths)} to {a.out} '
          f'({time.perf_counter() - t0:.1f} s)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
