"""Result tables (CSV, markdown) and the bar plot of the protocol."""
from __future__ import annotations

import csv
import os.path as osp
from typing import Dict, List, Mapping, Sequence

import numpy as np

from mmmulti.utils.atomic import atomic_path, atomic_write

METRICS = (('map_40', 'mAP@0.4'), ('map_50_95', 'mAP[.5:.95]'))


def summarise(rows: Sequence[Mapping]) -> Dict[str, Dict[str, np.ndarray]]:
    """``{arm: {metric: values over seeds}}``, arms in first-seen order."""
    out: Dict[str, Dict[str, List[float]]] = {}
    for row in rows:
        arm = out.setdefault(row['arm'], {k: [] for k, _ in METRICS})
        for key, _ in METRICS:
            arm[key].append(float(row[key]))
    return {a: {k: np.asarray(v) for k, v in m.items()} for a, m in out.items()}


def write_csv(rows: Sequence[Mapping], path: str) -> None:
    keys = ['arm', 'seed', *[k for k, _ in METRICS], 'train_seconds']
    with atomic_write(path, newline='') as f:
        writer = csv.DictWriter(f, fieldnames=keys, extrasaction='ignore')
        writer.writeheader()
        for row in rows:
            writer.writerow(row)


def markdown_table(rows: Sequence[Mapping]) -> str:
    """Mean ± std over seeds per arm (std omitted for one seed)."""
    summary = summarise(rows)
    lines = ['| arm | seeds | ' + ' | '.join(n for _, n in METRICS) + ' |',
             '|---|---|' + '---|' * len(METRICS)]
    for arm, metrics in summary.items():
        cells = []
        for key, _ in METRICS:
            v = metrics[key]
            cells.append(f'{v.mean():.3f} ± {v.std(ddof=1):.3f}' if len(v) > 1
                         else f'{v.mean():.3f}')
        lines.append(f'| {arm} | {len(metrics[METRICS[0][0]])} | ' + ' | '.join(cells) + ' |')
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
            ax.errorbar(i, v.mean(), yerr=[[v.mean() - v.min()], [v.max() - v.mean()]],
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


def write_reports(rows: Sequence[Mapping], out_dir: str, title: str) -> Dict[str, str]:
    paths = {'csv': osp.join(out_dir, 'results.csv'), 'md': osp.join(out_dir, 'results.md'),
             'png': osp.join(out_dir, 'results.png')}
    write_csv(rows, paths['csv'])
    with atomic_write(paths['md']) as f:
        f.write(f'# {title}\n\n{markdown_table(rows)}\n')
    bar_plot(rows, paths['png'], title)
    return paths
