"""Merge protocol runs of the same data and recipe into one report.

Arms trained at different times (a new arm added to a finished run, more
seeds later, a committed table whose work folder is gone) land in different
folders. This reads each run's ``results.csv`` (a folder, or the file itself,
such as a committed ``docs/results/.../results.csv``), keeps each (arm, seed)
once, refuses two runs that disagree on the same arm and seed, and writes the
protocol's results.csv / .md / .png for the whole, with every arm paired
against the baseline over the seeds they share. Learning curves are drawn for
the runs whose training logs are still in their folder.

    python tools/analysis/merge_runs.py docs/results/med_mnist_mini_vindr_like_all \
        work_dirs/mini_vindr_like_arms --out docs/results/med_mnist_mini_vindr_like_all \
        --title "med_mnist / mini_vindr_like / yolo: all arms"
"""
import argparse
import math
import os
import os.path as osp
import sys
from typing import Dict, List, Mapping, Optional, Sequence

from mmmulti.protocol.report import (METRICS, merge_results, read_results, read_val_curve,
                                     write_reports)
from mmmulti.utils.cli_errors import add_debug_flag, cli_entry
from mmmulti.utils.output_guard import check_output_dir

OUTPUTS = ('results.csv', 'results.md', 'results.png', 'learning_curves.png')


def results_path(run: str) -> str:
    return run if run.endswith('.csv') else osp.join(run, 'results.csv')


def read_curves(run: str, rows: List[dict]) -> Dict[str, Dict[int, Dict]]:
    """Validation curves of the (arm, seed) trainings still in ``run``'s folder."""
    folder = osp.dirname(results_path(run))
    curves: Dict[str, Dict[int, Dict]] = {}
    for row in rows:
        curve = read_val_curve(osp.join(folder, f'seed{row["seed"]}', row['arm']))
        if curve['epoch']:
            curves.setdefault(row['arm'], {})[row['seed']] = curve
    return curves


def check_runs_agree(runs: Mapping[str, Sequence[Mapping]]) -> None:
    """Refuse two runs whose (arm, seed) metrics differ where one is NaN.

    ``merge_results`` compares by absolute difference, which is never above
    its tolerance when a value is NaN, so a NaN row would be kept silently.
    """
    first: Dict[tuple, tuple] = {}
    for name, rows in runs.items():
        for row in rows:
            key = (row['arm'], row['seed'])
            if key not in first:
                first[key] = (name, row)
                continue
            other, old = first[key]
            for k, _ in METRICS:
                a, b = float(old[k]), float(row[k])
                if math.isnan(a) != math.isnan(b):
                    raise ValueError(f'arm {key[0]!r} seed {key[1]} differs between {other} '
                                     f'and {name}: {k} {a:.4f} vs {b:.4f} (not the same '
                                     'recipe or data, or an unfinished run: drop one)')


@cli_entry
def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('runs', nargs='+', help='protocol run folders or results.csv files')
    p.add_argument('--out', required=True, help='folder for the merged report')
    p.add_argument('--title', default='merged protocol runs')
    p.add_argument('--arms', nargs='+', help='keep only these arms (default: all)')
    p.add_argument('--overwrite', action='store_true',
                   help='allow --out to hold one of the input results.csv files')
    add_debug_flag(p)
    args = p.parse_args(argv)
    # merging into one of the runs would cut its results.csv to the merged rows
    check_output_dir(args.out, OUTPUTS, [results_path(r) for r in args.runs],
                     overwrite=args.overwrite)
    runs = {run: read_results(results_path(run)) for run in args.runs}
    if args.arms:
        runs = {k: [r for r in v if r['arm'] in args.arms] for k, v in runs.items()}
    check_runs_agree(runs)
    rows = merge_results(runs)
    if not rows:
        raise ValueError('no result rows to merge')
    curves: Dict[str, Dict[int, Dict]] = {}
    for run, run_rows in runs.items():
        for arm, by_seed in read_curves(run, run_rows).items():
            for seed, curve in by_seed.items():
                curves.setdefault(arm, {}).setdefault(seed, curve)
    os.makedirs(args.out, exist_ok=True)
    paths = write_reports(rows, args.out, args.title, curves=curves or None)
    arms = sorted({r['arm'] for r in rows})
    seeds = sorted({r['seed'] for r in rows})
    print(f'merged {len(rows)} rows from {len(runs)} runs: arms {arms}, seeds {seeds}')
    for kind, path in paths.items():
        print(f'{kind}: {path}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
