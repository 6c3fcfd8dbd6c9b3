"""A study: the protocol repeated over reader settings, one figure for all.

The protocol compares arms on one data set. Which method to choose depends on
how the readers disagree, so a study runs the same protocol (same scale, arms
and seeds, the ``truth`` arm as the upper bound) on simulated data sets that
differ only in the readers: each reader *preset* (``paper``, ``vindr_like``,
``mixed``; :mod:`mmmulti.simulation.profiles`) at each reader *proficiency*.
Every point is an ordinary protocol run in ``<work_dir>/<preset>_p<proficiency>/``
with its own paired comparisons; the study adds ``study.csv``, ``study.md``
(mean and spread over seeds per point and arm) and ``study.png`` (mAP against
proficiency, one line per arm, whiskers over seeds, one column per preset).

    python tools/run_study.py --scale study                 # ~1 h on 2 CPU cores
    python tools/run_study.py --scale tiny --presets paper --proficiencies 0.6 0.9
"""
from __future__ import annotations

import argparse
import csv
import os
import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence

import numpy as np

from mmmulti.utils.atomic import atomic_path, atomic_write

from .report import METRICS, read_results
from .runner import ProtocolSettings, run_protocol
from .scale import load_scale

STUDY_FIELDS = ('preset', 'proficiency', 'arm', 'seed', 'map_40', 'map_50_95')


@dataclass
class StudySettings:
    """What one study runs; unset lists come from the scale's ``study`` dict."""
    scale_file: str
    work_dir: str
    presets: Optional[Sequence[str]] = None
    proficiencies: Optional[Sequence[float]] = None
    arms: Optional[Sequence[str]] = None
    seeds: Optional[Sequence[int]] = None
    detector: str = 'yolo'
    extra_cfg: Dict = field(default_factory=dict)


def point_name(preset: str, proficiency: float) -> str:
    return f'{preset}_p{proficiency:g}'


def study_points(settings: StudySettings) -> List[tuple]:
    """``(preset, proficiency)`` of every protocol run, in order."""
    defaults = load_scale(settings.scale_file).get('study', {})
    presets = list(settings.presets or defaults.get('presets', ['paper']))
    profs = [float(p) for p in (settings.proficiencies
                                or defaults.get('proficiencies', [0.8]))]
    for p in profs:
        if not 0.0 < p <= 1.0:
            raise ValueError(f'proficiency must be in (0, 1], got {p}')
    return [(preset, p) for preset in presets for p in profs]


def run_study(settings: StudySettings) -> Dict[str, str]:
    """Run the protocol at every point; return the study's report paths."""
    rows: List[Dict] = []
    paths: Dict[str, str] = {}
    for preset, prof in study_points(settings):
        name = point_name(preset, prof)
        print(f'[study] {name}: reader preset {preset!r}, proficiency {prof:g}', flush=True)
        point = ProtocolSettings(
            scale_file=settings.scale_file, work_dir=osp.join(settings.work_dir, name),
            detector=settings.detector, data_root=osp.join(settings.work_dir, 'data', name),
            arms=settings.arms, seeds=settings.seeds, extra_cfg=settings.extra_cfg,
            data_overrides=dict(preset=preset, proficiency=prof))
        out = run_protocol(point)
        for r in read_results(out['csv']):
            rows.append(dict(preset=preset, proficiency=prof, arm=r['arm'], seed=r['seed'],
                             map_40=r['map_40'], map_50_95=r['map_50_95']))
        # reports after every point: a long study shows its table as it goes
        paths = write_study_reports(rows, settings.work_dir)
    return paths


def _grouped(rows: Sequence[Mapping]) -> Dict[tuple, Dict[str, np.ndarray]]:
    """``{(preset, proficiency, arm): {metric: values over seeds}}`` in order."""
    out: Dict[tuple, Dict[str, list]] = {}
    for r in rows:
        g = out.setdefault((r['preset'], float(r['proficiency']), r['arm']),
                           {k: [] for k, _ in METRICS})
        for k, _ in METRICS:
            g[k].append(float(r[k]))
    return {key: {k: np.asarray(v) for k, v in g.items()} for key, g in out.items()}


def _cell(v: np.ndarray) -> str:
    if len(v) > 1:
        return f'{v.mean():.3f} ± {v.std(ddof=1):.3f}'
    return f'{v.mean():.3f}'


def study_markdown(rows: Sequence[Mapping]) -> str:
    """One table per metric: a row per (preset, proficiency), a column per arm,
    mean ± sample standard deviation over seeds."""
    groups = _grouped(rows)
    arms = list(dict.fromkeys(k[2] for k in groups))
    points = list(dict.fromkeys(k[:2] for k in groups))
    seeds = sorted({int(r['seed']) for r in rows})
    lines = [f'# Study: {len(points)} reader setting(s) x {len(arms)} arm(s), '
             f'seeds {seeds}', '',
             'Mean ± standard deviation over training seeds (one value: one seed). Each '
             "setting's paired comparison with the baseline, with its 95 % interval, is "
             'in `<preset>_p<proficiency>/results.md`.']
    for key, label in METRICS:
        lines += ['', f'## {label}', '',
                  '| preset | proficiency | ' + ' | '.join(arms) + ' |',
                  '|---|---|' + '---|' * len(arms)]
        for preset, prof in points:
            cells = [_cell(groups[(preset, prof, a)][key]) if (preset, prof, a) in groups
                     else '—' for a in arms]
            lines.append(f'| {preset} | {prof:g} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines) + '\n'


def study_plot(rows: Sequence[Mapping], path: str) -> None:
    """mAP against proficiency: a column per preset, a row per metric, a line
    per arm (mean over seeds), whiskers min..max over seeds."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    groups = _grouped(rows)
    presets = list(dict.fromkeys(k[0] for k in groups))
    arms = list(dict.fromkeys(k[2] for k in groups))
    fig = Figure(figsize=(4.2 * len(presets) + 1.5, 6.5))
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(METRICS), len(presets), squeeze=False)
    colors = {a: f'C{i % 10}' for i, a in enumerate(arms)}
    for col, preset in enumerate(presets):
        for row, (key, label) in enumerate(METRICS):
            ax = axes[row][col]
            for arm in arms:
                pts = sorted((k[1], v[key]) for k, v in groups.items()
                             if k[0] == preset and k[2] == arm)
                if not pts:
                    continue
                x = np.array([p for p, _ in pts])
                mean = np.array([v.mean() for _, v in pts])
                low = mean - np.array([v.min() for _, v in pts])
                high = np.array([v.max() for _, v in pts]) - mean
                ax.errorbar(x, mean, yerr=[low, high], marker='o', capsize=3,
                            color=colors[arm], label=arm)
            ax.set_xlabel('reader proficiency')
            ax.set_ylabel(label)
            ax.grid(alpha=0.3)
            if row == 0:
                ax.set_title(f'readers: {preset}')
    axes[0][-1].legend(fontsize=8, loc='best')
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format='png')


def write_study_reports(rows: Sequence[Mapping], out_dir: str) -> Dict[str, str]:
    os.makedirs(out_dir, exist_ok=True)
    paths = {k: osp.join(out_dir, f'study.{k}') for k in ('csv', 'md', 'png')}
    with atomic_write(paths['csv'], newline='') as f:
        w = csv.DictWriter(f, fieldnames=STUDY_FIELDS)
        w.writeheader()
        for r in rows:
            w.writerow({k: r[k] for k in STUDY_FIELDS})
    with atomic_write(paths['md']) as f:
        f.write(study_markdown(rows))
    study_plot(rows, paths['png'])
    return paths


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    from mmengine.config import DictAction
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--scale', default='study',
                   help='a shipped scale (study, quick, mini, tiny) or a scale file path')
    p.add_argument('--presets', nargs='+', help="reader presets (default: the scale's "
                   "study.presets, else 'paper')")
    p.add_argument('--proficiencies', nargs='+', type=float,
                   help="reader proficiencies (default: the scale's study.proficiencies)")
    p.add_argument('--arms', nargs='+', help="arms (default: the scale's)")
    p.add_argument('--seeds', nargs='+', type=int, help="training seeds (default: the scale's)")
    p.add_argument('--detector', default='yolo',
                   choices=['yolo', 'efficientdet_d3', 'efficientdet_d4'])
    p.add_argument('--work-dir', help='default work_dirs/study_<scale>')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help="overrides merged into every arm's config")
    return p.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> None:
    from .cli import resolve_scale
    args = parse_args(argv)
    scale_file, name = resolve_scale(args.scale)
    settings = StudySettings(
        scale_file=scale_file, work_dir=args.work_dir or osp.join('work_dirs', f'study_{name}'),
        presets=args.presets, proficiencies=args.proficiencies, arms=args.arms,
        seeds=args.seeds, detector=args.detector, extra_cfg=args.cfg_options or {})
    paths = run_study(settings)
    print(open(paths['md']).read())
    print('\n'.join(f'{k}: {v}' for k, v in paths.items()))


if __name__ == '__main__':
    main()
