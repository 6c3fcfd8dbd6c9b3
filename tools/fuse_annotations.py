"""Truth inference: fuse the readers' boxes of a multi-reader COCO file.

Example:
    python tools/fuse_annotations.py data/train_readers.json data/train_wbf.json \
        --method wbf --iou-thr 0.4
    # each fused box weighted by the posterior that it is a real finding
    python tools/fuse_annotations.py data/train_readers.json data/train_presence.json \
        --method presence_wbf
    # the reader_model_earl arm's fusion (presence + bias, noise, Dawid-Skene)
    python tools/fuse_annotations.py data/train_readers.json data/train_reader_model.json \
        --method presence_wbf --iou-thr 0.4 --min-confidence 0.5 --correct-bias \
        --precision-weights --class-target dawid_skene

An EM method that stops at --max-iter before converging prints a WARNING line
on stderr; the output's info.fusion.em records how every EM fit ended.
"""
import argparse
import math
import sys
import warnings

from mmmulti.fusion import METHOD_ALIASES, build_fusion
from mmmulti.fusion.base import EMNotConvergedWarning, em_fits
from mmmulti.fusion.pipeline import fuse_coco_file
from mmmulti.fusion.summary import fusion_summary
from mmmulti.fusion.params import check_reader_weights
from mmmulti.utils.cli_errors import add_debug_flag, cli_entry, one_line
from mmmulti.utils.output_guard import check_output_file


def parse_reader_weights(items):
    """``READER=W`` items as ``{reader: weight}``, each weight finite and > 0."""
    if not items:
        return None
    weights = {}
    for item in items:
        reader, sep, value = item.rpartition('=')
        if not sep or not reader:
            raise ValueError(f'--reader-weights: expected READER=WEIGHT, got {item!r}')
        if reader in weights:
            raise ValueError(f'--reader-weights: reader {reader!r} given twice')
        try:
            weights[reader] = float(value)
        except ValueError:
            raise ValueError(f'--reader-weights: {item!r}: weight is not a number') from None
    return check_reader_weights(weights, '--reader-weights')


def parse_int_at_least_1(name, text):
    """``text`` as an integer >= 1 (None stays None), else ValueError."""
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < 1:
        raise ValueError(f'{name} must be an integer >= 1, got {text!r}')
    return value


def parse_positive_float(name, text):
    """``text`` as a finite float > 0 (None stays None), else ValueError."""
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not math.isfinite(value) or value <= 0:
        raise ValueError(f'{name} must be a finite number > 0, got {text!r}')
    return value


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
    p.add_argument('--max-iter', default=None, metavar='N',
                   help='EM methods (dawid_skene_wbf, presence_wbf, reliability_wbf, '
                   'calibrated_wbf): most EM rounds, an integer >= 1 (default: the '
                   "method's); stopping there before converging prints a WARNING")
    p.add_argument('--tol', default=None, metavar='TOL',
                   help='EM methods: stop when the change falls below this (> 0)')
    p.add_argument('--correct-bias', action='store_true', default=None,
                   help="presence_wbf: estimate and undo each reader's systematic box bias")
    p.add_argument('--bias-rounds', default=None, metavar='N',
                   help='presence_wbf with --correct-bias: rounds of it (default 3)')
    p.add_argument('--precision-weights', action='store_true', default=None,
                   help="presence_wbf: weight each reader's coordinates by 1 / its box "
                   'noise variance')
    p.add_argument('--class-target', choices=('votes', 'dawid_skene'), default=None,
                   help="presence_wbf: class target, the readers' vote shares (default) or "
                   'the Dawid-Skene posterior')
    p.add_argument('--class-max-iter', default=None, metavar='N',
                   help='presence_wbf with --class-target dawid_skene: most rounds of the '
                   'class EM (default 50; --max-iter is the presence EM\'s)')
    p.add_argument('--class-tol', default=None, metavar='TOL',
                   help='presence_wbf with --class-target dawid_skene: the class EM\'s tol')
    p.add_argument('--readers', nargs='+', default=None, help='use only these readers')
    p.add_argument('--reader-key', default='reader', help='annotation key of the reader id')
    p.add_argument('--strict-geometry', action='store_true',
                   help='fail on a bad box instead of dropping and counting it')
    p.add_argument('--overwrite', action='store_true',
                   help='allow OUTPUT to be INPUT (replaces the readers\' boxes)')
    add_debug_flag(p)
    return p.parse_args(argv)


def fuse_collecting_em_warnings(args, method, em_warnings):
    """fuse_coco_file; every EMNotConvergedWarning it gives is appended to
    ``em_warnings`` (always: never filtered away or shown once only), every
    other warning is shown as usual."""
    caught = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always', EMNotConvergedWarning)
            return fuse_coco_file(args.input, args.output, method,
                                  reader_key=args.reader_key, readers=args.readers,
                                  strict_geometry=args.strict_geometry)
    finally:
        # outside catch_warnings: the others are shown where they would have been
        for w in caught:
            if issubclass(w.category, EMNotConvergedWarning):
                em_warnings.append(str(w.message))
            else:
                warnings.showwarning(w.message, w.category, w.filename, w.lineno,
                                     w.file, w.line)


def print_em_warnings(method, em_warnings):
    """One ``WARNING:`` line on stderr per EM fit that stopped at max_iter:
    the warnings it gave or, for a method that gave none, from its ``em``."""
    if not em_warnings:
        for label, em in em_fits(getattr(method, 'em', None)):
            if not em.get('converged', True):
                em_warnings.append(f'{type(method).__name__} {label}: EM stopped at '
                                   f'max_iter={em.get("max_iter")} without converging')
    for text in em_warnings:
        print(f'WARNING: {" ".join(text.split())}', file=sys.stderr)


@cli_entry
def main(argv=None):
    args = parse_args(argv)
    em_warnings = []
    try:
        max_iter = parse_int_at_least_1('--max-iter', args.max_iter)
        tol = parse_positive_float('--tol', args.tol)
        bias_rounds = parse_int_at_least_1('--bias-rounds', args.bias_rounds)
        class_max_iter = parse_int_at_least_1('--class-max-iter', args.class_max_iter)
        class_tol = parse_positive_float('--class-tol', args.class_tol)
        check_output_file(args.output, [args.input], overwrite=args.overwrite)
        method = build_fusion(args.method, iou_thr=args.iou_thr,
                              skip_box_thr=args.skip_box_thr, conf_type=args.conf_type,
                              score_mode=args.score_mode,
                              reader_weights=parse_reader_weights(args.reader_weights),
                              reader=args.reader, min_confidence=args.min_confidence,
                              max_iter=max_iter, tol=tol, correct_bias=args.correct_bias,
                              bias_rounds=bias_rounds,
                              precision_weights=args.precision_weights,
                              class_target=args.class_target,
                              class_max_iter=class_max_iter, class_tol=class_tol)
        src, fused, seconds = fuse_collecting_em_warnings(args, method, em_warnings)
    except (ValueError, TypeError) as e:
        print_em_warnings(None, em_warnings)
        if args.debug:
            raise
        print(f'error: {one_line(e)}', file=sys.stderr)
        return 2
    print(f'{args.input} -> {args.output}')
    print(fusion_summary(src.reads, fused, method, seconds, drops=src.drops))
    if hasattr(method, 'report'):
        print(method.report())
    sys.stdout.flush()
    print_em_warnings(method, em_warnings)
    return 0


if __name__ == '__main__':
    sys.exit(main())
