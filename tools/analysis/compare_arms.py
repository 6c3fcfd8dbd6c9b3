"""Compare every arm of a protocol run against any reference arm.

The protocol's tables compare each arm with the all-boxes baseline. To ask
whether a method beats another one (soft labels against WBF + EARL, say),
this reads the run's ``results.csv`` and gives, per arm, the paired difference
to ``--reference`` with its 95 % interval: Student's t over the shared seeds
(two or more), or with one seed a paired bootstrap over the test images when
``--gt`` names the test annotations (the arms' ``predictions`` files are read
from the run's folder).

    python tools/analysis/compare_arms.py work_dirs/protocol_med_mnist_mini_vindr_like \
        --reference wbf_earl
    python tools/analysis/compare_arms.py work_dirs/vindr_seed0 --reference wbf_earl \
        --gt data/med_mnist_mini_vindr_like/annotations/test.json
"""
import argparse
import glob
import os.path as osp
import sys
from typing import Dict, List, Optional

from mmmulti.protocol.report import METRICS, compare, read_results
from mmmulti.utils.cli_errors import add_debug_flag, cli_entry


def read_rows(work_dir: str) -> List[dict]:
    return read_results(osp.join(work_dir, 'results.csv'))


def bootstrap_one_seed(work_dir: str, rows: List[dict], reference: str, gt_file: str,
                       num_samples: int) -> Dict:
    """Paired bootstrap of every arm against ``reference`` (one-seed runs)."""
    from mmmulti.evaluation.bootstrap import image_matches, paired_bootstraps
    from mmmulti.evaluation.predictions import load_coco_gt, load_predictions
    seed = rows[0]['seed']
    gt = load_coco_gt(gt_file)
    matches = {}
    for arm in {r['arm'] for r in rows}:
        found = sorted(glob.glob(osp.join(work_dir, f'seed{seed}', arm, 'predictions.*')))
        if not found:
            raise FileNotFoundError(f'{work_dir}/seed{seed}/{arm}: no predictions file')
        matches[arm] = image_matches(gt, load_predictions(found[0], gt))
    return paired_bootstraps(matches, reference, num_samples=num_samples)


def table(comparison: Dict, reference: str) -> str:
    lines = [f'| arm | ' + ' | '.join(f'Δ {label} vs {reference} [95 % CI]'
                                      for _, label in METRICS) + ' | interval |',
             '|---|' + '---|' * (len(METRICS) + 1)]
    for arm, entry in comparison.items():
        cells, method = [], ''
        for key, _ in METRICS:
            s = entry.get(key)
            if s is None:
                cells.append('')
                continue
            method = s['method']
            if s['low'] == s['low']:  # not NaN
                cells.append(f"{s['diff']:+.3f} [{s['low']:+.3f}, {s['high']:+.3f}] "
                             f"{s['verdict']}")
            else:
                cells.append(f"{s['diff']:+.3f} ({s['verdict']})")
        lines.append(f'| {arm} | ' + ' | '.join(cells) + f' | {method} |')
    return '\n'.join(lines)


@cli_entry
def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('work_dir', help='a protocol run folder (with results.csv)')
    p.add_argument('--reference', default='wbf_earl', help='the arm to compare against')
    p.add_argument('--gt', help='test annotations: one-seed runs get a paired bootstrap')
    p.add_argument('--num-samples', type=int, default=1000)
    add_debug_flag(p)
    args = p.parse_args(argv)
    if args.num_samples < 1:
        raise ValueError(f'--num-samples must be >= 1, got {args.num_samples}')
    rows = read_rows(args.work_dir)
    if args.reference not in {r['arm'] for r in rows}:
        raise ValueError(f'arm {args.reference!r} is not in {args.work_dir}/results.csv '
                         f'(arms: {sorted({r["arm"] for r in rows})})')
    seeds = {r['seed'] for r in rows}
    boot = (bootstrap_one_seed(args.work_dir, rows, args.reference, args.gt,
                               args.num_samples)
            if len(seeds) == 1 and args.gt else None)
    print(table(compare(rows, bootstrap=boot, reference=args.reference), args.reference))
    return 0


if __name__ == '__main__':
    sys.exit(main())
