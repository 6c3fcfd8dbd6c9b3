"""Result tables (CSV, markdown), the comparison against the baseline, and the
protocol's pictures (bar plot, learning curves).

Every arm is compared with the reference arm (the all-boxes baseline) as a
*paired* difference: per seed when there are several seeds (the same seed
trains both arms), else by a paired bootstrap over test images computed by
the runner. The verdict follows the 95 % interval only: "better" or "worse"
when it excludes 0, "not distinguishable" otherwise, whatever the sign of
the mean difference.
"""
from __future__ import annotations

import csv
import json
import os.path as osp
from typing import Dict, List, Mapping, Optional, Sequence

import numpy as np

from mmmulti.utils.atomic import atomic_path, atomic_write

METRICS = (('map_40', 'mAP@0.4'), ('map_50_95', 'mAP[.5:.95]'))
REFERENCE_ARM = 'baseline'
UPPER_BOUND_ARM = 'truth'


def summarise(rows: Sequence[Mapping]) -> Dict[str, Dict[str, np.ndarray]]:
    """``{arm: {metric: values over seeds}}``, arms in first-seen order."""
    out: Dict[str, Dict[str, List[float]]] = {}
    for row in rows:
        arm = out.setdefault(row['arm'], {k: [] for k, _ in METRICS})
        for key, _ in METRICS:
            arm[key].append(float(row[key]))
    return {a: {k: np.asarray(v) for k, v in m.items()} for a, m in out.items()}


def verdict(low: float, high: float) -> str:
    """What a 95 % interval of (arm - reference) supports."""
    if low > 0:
        return 'better'
    if high < 0:
        return 'worse'
    return 'not distinguishable'


def t_interval(diffs: Sequence[float], level: float = 0.95) -> Dict[str, float]:
    """Mean of paired differences with its Student-t interval (n >= 2)."""
    from scipy import stats
    d = np.asarray(diffs, dtype=float)
    mean = float(d.mean())
    half = float(stats.t.ppf((1 + level) / 2, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d)))
    return dict(diff=mean, low=mean - half, high=mean + half)


def compare(rows: Sequence[Mapping], bootstrap: Optional[Mapping] = None,
            reference: str = REFERENCE_ARM) -> Dict[str, Dict]:
    """Per arm (but the reference): the paired difference to the reference per
    metric (``diff``, ``low``, ``high``, ``verdict``, ``method``) and the gap
    recovered, ``(arm - reference) / (truth - reference)`` on the means.

    With two or more seeds both arms share, the interval is Student's t over
    the per-seed differences; with one seed it is ``bootstrap[arm][metric]``
    (a paired bootstrap over test images, see
    :func:`mmmulti.evaluation.bootstrap.paired_bootstrap`) when given.
    """
    by_arm: Dict[str, Dict[int, Mapping]] = {}
    for row in rows:
        by_arm.setdefault(row['arm'], {})[row['seed']] = row
    if reference not in by_arm:
        return {}
    ref = by_arm[reference]
    summary = summarise(rows)
    out: Dict[str, Dict] = {}
    for arm, seeds in by_arm.items():
        if arm == reference:
            continue
        shared = sorted(set(seeds) & set(ref))
        entry: Dict = {}
        for key, _ in METRICS:
            if len(shared) >= 2:
                stats = t_interval([seeds[s][key] - ref[s][key] for s in shared])
                stats.update(method=f'paired t over {len(shared)} seeds')
            elif bootstrap is not None and arm in bootstrap:
                stats = dict(bootstrap[arm][key])
                stats.update(method='paired bootstrap over test images')
            elif shared:
                d = float(seeds[shared[0]][key] - ref[shared[0]][key])
                stats = dict(diff=d, low=float('nan'), high=float('nan'), method='one seed')
            else:
                continue
            stats['verdict'] = (verdict(stats['low'], stats['high'])
                                if np.isfinite(stats['low']) else 'no interval')
            entry[key] = stats
        if UPPER_BOUND_ARM in summary and arm != UPPER_BOUND_ARM:
            gaps = {}
            for key, _ in METRICS:
                base = summary[reference][key].mean()
                gap = summary[UPPER_BOUND_ARM][key].mean() - base
                gaps[key] = (float((summary[arm][key].mean() - base) / gap)
                             if gap > 0 else float('nan'))
            entry['gap_recovered'] = gaps
        out[arm] = entry
    return out


def read_results(path: str) -> List[Dict]:
    """The per-seed rows of a protocol run's ``results.csv`` (its ``seed=all``
    summary rows skipped), metrics as floats: what :func:`compare` and
    :func:`write_reports` take. A missing file or a row without a metric is a
    clear error naming the file and the row."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: no results.csv (is it a protocol run?)')
    rows = []
    with open(path, newline='') as f:
        for line, row in enumerate(csv.DictReader(f), start=2):
            if row.get('seed') == 'all':
                continue
            try:
                parsed = dict(row, seed=int(row['seed']),
                              **{k: float(row[k]) for k, _ in METRICS})
            except (KeyError, TypeError, ValueError) as e:
                raise ValueError(f'{path}, line {line}: not a protocol result row '
                                 f'({type(e).__name__}: {e})') from None
            if row.get('train_seconds'):
                parsed['train_seconds'] = float(row['train_seconds'])
            rows.append(parsed)
    return rows


def merge_results(runs: Mapping[str, Sequence[Mapping]], tol: float = 1e-9) -> List[Dict]:
    """Rows of several runs of the same protocol as one run (arms and seeds
    trained at different times, into different folders).

    An (arm, seed) that two runs both hold is kept once when their metrics
    agree, and is an error naming both runs when they do not: the two were
    not trained with the same recipe and data, so pairing them would be wrong.
    """
    merged: Dict[tuple, Dict] = {}
    source: Dict[tuple, str] = {}
    for name, rows in runs.items():
        for row in rows:
            key = (row['arm'], row['seed'])
            if key in merged:
                old = merged[key]
                if any(abs(old[k] - row[k]) > tol for k, _ in METRICS):
                    raise ValueError(
                        f'arm {key[0]!r} seed {key[1]} differs between {source[key]} '
                        f'and {name}: ' + ', '.join(f'{k} {old[k]:.4f} vs {row[k]:.4f}'
                                                   for k, _ in METRICS)
                        + ' (not the same recipe or data: drop one)')
                continue
            merged[key] = dict(row)
            source[key] = name
    return list(merged.values())


def write_csv(rows: Sequence[Mapping], path: str,
              comparison: Optional[Mapping] = None) -> None:
    """One row per arm and seed, then one ``seed=all`` row per arm with the
    mean, the paired difference to the baseline, its interval and verdict."""
    metric_keys = [k for k, _ in METRICS]
    cmp_keys = [f'{k}_{s}' for k in metric_keys for s in ('diff', 'low', 'high', 'verdict')]
    gap_keys = [f'{k}_gap_recovered' for k in metric_keys]
    keys = ['arm', 'seed', *metric_keys, 'train_seconds', *cmp_keys, 'interval', *gap_keys]
    comparison = comparison or {}
    with atomic_write(path, newline='') as f:
        writer = csv.DictWriter(f, fieldnames=keys, extrasaction='ignore')
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
        for arm, metrics in summarise(rows).items():
            out = dict(arm=arm, seed='all', **{k: f'{v.mean():.6f}' for k, v in metrics.items()})
            for key in metric_keys:
                c = comparison.get(arm, {}).get(key)
                if c:
                    out.update({f'{key}_diff': f"{c['diff']:.6f}",
                                f'{key}_low': f"{c['low']:.6f}",
                                f'{key}_high': f"{c['high']:.6f}",
                                f'{key}_verdict': c['verdict'], 'interval': c['method']})
                gap = comparison.get(arm, {}).get('gap_recovered', {}).get(key)
                if gap is not None:
                    out[f'{key}_gap_recovered'] = f'{gap:.4f}'
            writer.writerow(out)


def markdown_table(rows: Sequence[Mapping], comparison: Optional[Mapping] = None) -> str:
    """Mean ± std over seeds per arm (std omitted for one seed), and, when a
    comparison is given, the paired difference to the baseline with its 95 %
    interval and verdict, and the gap recovered."""
    summary = summarise(rows)
    comparison = comparison or {}
    head = ['arm', 'seeds', *[n for _, n in METRICS]]
    if comparison:
        head += [f'Δ {n} vs {REFERENCE_ARM} [95 % CI]' for _, n in METRICS]
        if any('gap_recovered' in c for c in comparison.values()):
            head += ['gap recovered (0.4 / .5:.95)']
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for arm, metrics in summary.items():
        cells = [arm, str(len(metrics[METRICS[0][0]]))]
        for key, _ in METRICS:
            v = metrics[key]
            cells.append(f'{v.mean():.3f} ± {v.std(ddof=1):.3f}' if len(v) > 1
                         else f'{v.mean():.3f}')
        if comparison:
            c = comparison.get(arm, {})
            for key, _ in METRICS:
                s = c.get(key)
                if s is None:
                    cells.append('reference' if arm == REFERENCE_ARM else '')
                elif np.isfinite(s['low']):
                    cells.append(f"{s['diff']:+.3f} [{s['low']:+.3f}, {s['high']:+.3f}] "
                                 f"{s['verdict']}")
                else:
                    cells.append(f"{s['diff']:+.3f} ({s['verdict']})")
            if len(head) > len(cells):
                g = c.get('gap_recovered')
                cells.append(' / '.join(f'{g[k]:.0%}' for k, _ in METRICS) if g else '')
        lines.append('| ' + ' | '.join(cells) + ' |')
    methods = sorted({s['method'] for c in comparison.values() for k, s in c.items()
                      if k != 'gap_recovered'})
    if methods:
        lines.append('')
        note = (f'Intervals: {"; ".join(methods)}. A difference whose interval holds 0 '
                'is "not distinguishable", whatever its sign.')
        if any('gap_recovered' in c for c in comparison.values()):
            note += (f' Gap recovered: (arm − {REFERENCE_ARM}) / '
                     f'({UPPER_BOUND_ARM} − {REFERENCE_ARM}).')
        lines.append(note)
    return '\n'.join(lines)


def bar_plot(rows: Sequence[Mapping], path: str, title: str = '') -> None:
    """One group of bars per metric; bar = mean over seeds, dots = each seed,
    whiskers = min..max, so the spread over seeds is visible."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    summary = summarise(rows)
    arms = list(summary)
    fig, axes = plt.subplots(1, len(METRICS), figsize=(4 + 1.3 * len(arms), 4))
    colors = plt.get_cmap('tab10')
    for ax, (key, name) in zip(np.atleast_1d(axes), METRICS):
        for i, arm in enumerate(arms):
            v = summary[arm][key]
            ax.bar(i, v.mean(), color=colors(i % 10), alpha=0.75)
            # max(0, .): equal seeds can give a mean a rounding step above their max
            ax.errorbar(i, v.mean(), yerr=[[max(0.0, v.mean() - v.min())],
                                           [max(0.0, v.max() - v.mean())]],
                        color='k', capsize=4)
            ax.scatter(np.full(len(v), i), v, color='k', s=12, zorder=3)
            ax.text(i, v.mean(), f'{v.mean():.3f}', ha='center', va='bottom', fontsize=8)
        ax.set_xticks(range(len(arms)))
        ax.set_xticklabels(arms, rotation=30, ha='right', fontsize=8)
        ax.set_title(name)
        ax.set_ylim(0, max(0.05, max(summary[a][key].max() for a in arms) * 1.2))
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120)
    plt.close(fig)


def read_val_curve(work_dir: str) -> Dict[str, List[float]]:
    """Validation metrics by epoch from the newest run's ``vis_data/scalars.json``
    (mmengine's LocalVisBackend): ``{'epoch': [...], 'map_40': [...], ...}``."""
    import glob
    files = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    curve: Dict[str, List[float]] = {'epoch': [], **{k: [] for k, _ in METRICS}}
    if not files:
        return curve
    with open(files[-1]) as f:
        for line in f:
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by an interrupted run
            if f'coco/{METRICS[0][0]}' in rec:
                curve['epoch'].append(int(rec['step']))
                for key, _ in METRICS:
                    curve[key].append(float(rec.get(f'coco/{key}', np.nan)))
    return curve


def learning_curves_plot(curves: Mapping[str, Mapping[int, Mapping]], path: str,
                         title: str = '') -> None:
    """Validation mAP against epoch, one colour per arm, one line per seed."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(METRICS), figsize=(11, 4))
    colors = plt.get_cmap('tab10')
    for ax, (key, name) in zip(np.atleast_1d(axes), METRICS):
        for i, (arm, by_seed) in enumerate(curves.items()):
            for j, (seed, c) in enumerate(sorted(by_seed.items())):
                if not c['epoch']:
                    continue
                ax.plot(c['epoch'], c[key], marker='o', ms=3, color=colors(i % 10),
                        alpha=0.9 if len(by_seed) == 1 else 0.6,
                        label=arm if j == 0 else None)
        ax.set_xlabel('epoch')
        ax.set_ylabel(f'validation {name}')
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc='lower right')
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120)
    plt.close(fig)


def write_reports(rows: Sequence[Mapping], out_dir: str, title: str,
                  bootstrap: Optional[Mapping] = None,
                  curves: Optional[Mapping] = None) -> Dict[str, str]:
    """results.csv / .md / .png, and learning_curves.png when ``curves`` is given."""
    paths = {'csv': osp.join(out_dir, 'results.csv'), 'md': osp.join(out_dir, 'results.md'),
             'png': osp.join(out_dir, 'results.png')}
    comparison = compare(rows, bootstrap)
    write_csv(rows, paths['csv'], comparison)
    with atomic_write(paths['md']) as f:
        f.write(f'# {title}\n\n{markdown_table(rows, comparison)}\n')
    bar_plot(rows, paths['png'], title)
    if curves:
        paths['curves'] = osp.join(out_dir, 'learning_curves.png')
        learning_curves_plot(curves, paths['curves'], title)
    return paths
