"""The committed results as model-zoo tables, written from their ``results.csv``,
so that the tables of ``docs/results/README.md`` and the README cannot drift from the data.

Means and spreads are those of the per-seed rows. The paired interval against the
all-boxes arm is recomputed by the protocol's own :func:`report.compare`: Student's t
over per-seed differences. A one-seed interval is a paired bootstrap over test images,
which needs the predictions; a committed folder keeps only the interval the protocol
computed from them (its ``seed=all`` rows), and that is what ``compare`` is given.
An experiment (dataset × scale × detector) is read from its ``results.md`` title as the
protocol writes it, the reader preset from the scale file (or a study point's folder
name). It lives in ``protocol/`` because it reads the protocol's reports.
"""
from __future__ import annotations

import csv
import glob
import os.path as osp
import re
from itertools import groupby
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from .arms import make_arms
from .report import (METRICS, REFERENCE_ARM, UPPER_BOUND_ARM, compare, markdown_table,
                     read_results, summarise)

PRESETS = ('paper', 'vindr_like', 'mixed')  # the simulator's reader presets, in this order
SHIPPED_SCALES = ('quick', 'mini', 'paper', 'tiny')  # --scale NAME; others by path
BOOTSTRAP = 'paired bootstrap over test images'
TITLE = re.compile(r'^#\s*(?P<dataset>\w+)\s*/\s*(?P<scale>\w+)\s*/\s*(?P<detector>\w+)\s*:')
STUDY_POINT = re.compile(r'^(?P<preset>\w+)_p(?P<proficiency>[0-9.]+)$')
README_START = '<!-- results-table:start -->'
README_END = '<!-- results-table:end -->'
QUICK_START = '<!-- quickstart-table:start -->'
QUICK_END = '<!-- quickstart-table:end -->'
QUICK_FOLDER = 'med_mnist_quick'  # what `run_protocol.py --scale quick` printed


@dataclass
class Experiment:
    """One folder of results: one protocol run (or several merged) of one setting."""
    folder: str                      # relative to the results root
    dataset: str
    scale: str
    detector: str
    preset: str
    proficiency: float
    data_seed: int
    rows: List[Dict]                 # per-seed rows (report.read_results)
    train_seconds: Dict = field(default_factory=dict)  # (arm, seed) -> the csv's text
    comparison: Dict = field(default_factory=dict)
    study: bool = False

    @property
    def arms(self) -> List[str]:
        """The upper bound and the reference first, then the csv's order."""
        seen = list(dict.fromkeys(r['arm'] for r in self.rows))
        first = {UPPER_BOUND_ARM: 0, REFERENCE_ARM: 1}
        return sorted(seen, key=lambda a: (first.get(a, 2), seen.index(a)))

    @property
    def seeds(self) -> List[int]:
        return sorted({r['seed'] for r in self.rows})


def csv_extras(path: str) -> Tuple[Dict[Tuple[str, int], str], Dict[str, Dict]]:
    """What :func:`report.read_results` leaves out of a ``results.csv``: each per-seed
    row's ``train_seconds`` as written (blank when blank), and the one-seed intervals
    the protocol computed (``seed=all`` rows of the paired bootstrap) as ``compare`` takes them."""
    seconds: Dict[Tuple[str, int], str] = {}
    boot: Dict[str, Dict] = {}
    with open(path, newline='') as f:
        for line, row in enumerate(csv.DictReader(f), start=2):
            try:
                if row.get('seed') != 'all':
                    seconds[(row['arm'], int(row['seed']))] = row.get('train_seconds') or ''
                elif row.get('interval') == BOOTSTRAP:
                    boot[row['arm']] = {k: {s: float(row[f'{k}_{s}'])
                                            for s in ('diff', 'low', 'high')} for k, _ in METRICS}
            except (KeyError, ValueError) as e:
                raise ValueError(f'{path}, line {line}: not a protocol result row '
                                 f'({type(e).__name__}: {e})') from None
    return seconds, boot


def scale_file(configs_dir: str, scale: str):
    """A scale file as a Config (its ``_base_`` merged)."""
    from mmengine.config import Config
    path = osp.join(configs_dir, 'protocol', f'{scale}.py')
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: no scale file for scale {scale!r}')
    return Config.fromfile(path)


def read_experiment(root: str, csv_path: str, configs_dir: str) -> Experiment:
    """The experiment of one ``results.csv`` (and the ``results.md`` beside it)."""
    md = osp.join(osp.dirname(csv_path), 'results.md')
    title = open(md).readline() if osp.isfile(md) else ''
    m = TITLE.match(title)
    if not m:
        raise ValueError(f'{md}: the first line should read "# <dataset> / <scale> / '
                         f'<detector>: ..." (as the protocol writes it), got {title.strip()!r}')
    data = dict(scale_file(configs_dir, m['scale']).get('data', {}))
    folder = osp.relpath(osp.dirname(csv_path), root)
    point = STUDY_POINT.match(osp.basename(folder))
    study = point is not None and osp.dirname(folder) != ''
    rows = read_results(csv_path)
    seconds, boot = csv_extras(csv_path)
    exp = Experiment(
        folder=folder, dataset=m['dataset'], scale=m['scale'], detector=m['detector'],
        preset=point['preset'] if study else data.get('preset', 'paper'),
        proficiency=float(point['proficiency']) if study else float(data.get('proficiency', 0.8)),
        data_seed=int(data.get('seed', 0)), rows=rows, study=study,
        train_seconds=seconds)
    exp.comparison = compare(rows, bootstrap=boot)
    return exp


def find_experiments(root: str, configs_dir: str) -> List[Experiment]:
    """Every ``results.csv`` under ``root`` (one level, and a study's points two levels down)."""
    paths = sorted(glob.glob(osp.join(root, '*', 'results.csv'))
                   + glob.glob(osp.join(root, '*', '*', 'results.csv')))
    if not paths:
        raise FileNotFoundError(f'{root}: no */results.csv (is it the results folder?)')
    exps = [read_experiment(root, p, configs_dir) for p in paths]
    return sorted(exps, key=lambda e: (PRESETS.index(e.preset) if e.preset in PRESETS
                                       else len(PRESETS), scale_rank(e.scale), e.folder))


def scale_rank(scale: str) -> int:
    """Smaller scales first: tiny, quick and study points, mini, then the rest."""
    for rank, prefix in enumerate(('tiny', 'quick', 'study', 'mini')):
        if scale.startswith(prefix):
            return rank
    return 4


def arm_config(arm: str, detector: str, configs_dir: str, readers: Sequence[str]) -> str:
    """The config an arm trains (before the scale's overrides), as a user would run it."""
    own = f'{arm}_{detector}.py'
    if osp.isfile(osp.join(configs_dir, own)):
        return f'`configs/{own}`'
    spec = make_arms(readers).get(arm)
    if spec is None:
        return ''
    if spec.is_ensemble:
        return 'WBF of the single-reader models'
    base = f'`configs/{spec.config.format(det=detector)}`'
    if arm.startswith('single_reader_'):
        return f'{base}, readers {arm[len("single_reader_"):]}'
    fusion = spec.overrides.get('train_dataloader', {}).get('dataset', {}).get('fusion', {})
    if 'type' in fusion:
        return f"{base} + `{fusion['type']}` fusion"
    earl = spec.overrides.get('model', {}).get('bbox_head', {}).get('earl', {})
    if earl:
        return base + ' + ' + ', '.join(f'`earl.{k}={v!r}`' for k, v in earl.items())
    return base


def command(exp: Experiment, defaults: Mapping) -> str:
    """The command that trains and scores every arm and seed of the folder."""
    if exp.study:
        flags = [f'--scale {exp.scale}', f'--presets {exp.preset}',
                 f'--proficiencies {exp.proficiency:g}']
    else:
        flags = [f'--scale {exp.scale}' if exp.scale in SHIPPED_SCALES
                 else f'--scale configs/protocol/{exp.scale}.py']
    if exp.dataset != 'med_mnist':
        flags.append(f'--dataset {exp.dataset}')
    if exp.detector != 'yolo':
        flags.append(f'--detector {exp.detector}')
    if exp.seeds != sorted(defaults.get('seeds', [])):
        flags.append('--seeds ' + ' '.join(map(str, exp.seeds)))
    if set(exp.arms) != set(defaults.get('arms', [])):
        flags.append('--arms ' + ' '.join(exp.arms))
    tool = 'tools/run_study.py' if exp.study else 'tools/run_protocol.py'
    return f'python {tool} ' + ' '.join(flags)


def _cell(stats: Optional[Mapping], arm: str) -> str:
    if stats is None:
        return 'reference' if arm == REFERENCE_ARM else ''
    d, lo, hi, v = stats['diff'], stats['low'], stats['high'], stats['verdict']
    return f'{d:+.3f} [{lo:+.3f}, {hi:+.3f}] {v}' if lo == lo else f'{d:+.3f} ({v})'  # NaN


def zoo_table(exp: Experiment, configs_dir: str) -> str:
    """One row per arm: config, seeds, mean ± std of each metric, the paired
    interval against the all-boxes arm, and the csv's training seconds per seed."""
    readers = [a[len('single_reader_'):] for a in exp.arms if a.startswith('single_reader_')]
    head = ['arm', 'config', 'seeds', *[n for _, n in METRICS],
            *[f'Δ {n} vs all boxes [95 % CI]' for _, n in METRICS], 'train s (per seed)']
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    summary = summarise(exp.rows)
    for arm in exp.arms:
        cells = [arm, arm_config(arm, exp.detector, configs_dir, readers),
                 ' '.join(str(r['seed']) for r in exp.rows if r['arm'] == arm)]
        for key, _ in METRICS:
            v = summary[arm][key]
            cells.append(f'{v.mean():.3f} ± {v.std(ddof=1):.3f}' if len(v) > 1
                         else f'{v.mean():.3f}')
        cells += [_cell(exp.comparison.get(arm, {}).get(key), arm) for key, _ in METRICS]
        # '-' for a seed whose training time is unknown (reused before it was recorded)
        cells.append(' / '.join(exp.train_seconds.get((arm, r['seed'])) or '-'
                                for r in exp.rows if r['arm'] == arm))
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def interval_note(exp: Experiment) -> str:
    """How the intervals of this table were computed."""
    methods = sorted({s['method'] for c in exp.comparison.values()
                      for k, s in c.items() if k != 'gap_recovered'})
    return '95 % intervals: ' + ('; '.join(methods) or 'none (no all-boxes arm)') + '.'


def experiment_block(exp: Experiment, configs_dir: str, link_prefix: str, note: bool) -> str:
    """Heading (linked to the folder), the intervals' method when ``note``, table, command."""
    scale = scale_file(configs_dir, exp.scale)
    defaults = dict(seeds=list(scale.get('seeds', [])), arms=list(scale.get('arms', [])))
    title = (f'{exp.dataset} · {exp.scale} · {exp.detector} · `{exp.preset}` readers, '
             f'proficiency {exp.proficiency:g}, data seed {exp.data_seed} '
             f'([{exp.folder}/]({link_prefix}{exp.folder}/))')
    return '\n'.join([f'### {title}', '', *([interval_note(exp), ''] if note else []),
                      zoo_table(exp, configs_dir), '', '```bash', command(exp, defaults), '```'])


def results_readme(experiments: Sequence[Experiment], root: str, configs_dir: str) -> str:
    """The whole ``docs/results/README.md``."""
    parts = [
        '# Results', '',
        '<!-- generated by `python tools/analysis/results_table.py docs/results '
        '--write-readme README.md`: edit the results.csv or the generator, not this file -->',
        '',
        'One folder per experiment (dataset · protocol scale · detector · reader preset). Each '
        'table is generated from the folder\'s `results.csv`: mean ± standard deviation over '
        'training seeds, the paired difference to the all-boxes arm (`baseline`) with its '
        '95 % interval and verdict (an interval that holds 0 is "not distinguishable", '
        'whatever its sign), and the training time the csv records for each seed (- '
        'where it is unknown: the arm\'s predictions were reused before training times '
        'were kept). The command under each table trains and scores every arm '
        'and seed of the folder on the CPU. What the tables support: '
        '[../guide_results.md](../guide_results.md).']
    for preset, exps in groupby(experiments, key=lambda e: e.preset):
        parts += ['', f'## `{preset}` readers']
        for exp in exps:
            parts += ['', experiment_block(exp, configs_dir, '', True)]
    heldout = sorted(glob.glob(osp.join(root, '*', 'heldout.md')))
    if heldout:
        parts += ['', '## Held-out reader checks (`tools/analysis/heldout_reader.py`)', '']
        for path in heldout:
            folder = osp.relpath(osp.dirname(path), root)
            parts.append(f'- [{folder}/{osp.basename(path)}]({folder}/{osp.basename(path)})')
    return '\n'.join(parts) + '\n'


def readme_section(experiments: Sequence[Experiment], configs_dir: str) -> str:
    """The README's results block: the multi-seed experiments (paired t), per preset."""
    parts = []
    for preset, exps in groupby(experiments, key=lambda e: e.preset):
        for exp in (e for e in exps if len(e.seeds) > 1):
            parts += [experiment_block(exp, configs_dir, 'docs/results/', False), '']
    return '\n'.join(parts).rstrip('\n')


def quickstart_table(experiments: Sequence[Experiment], folder: str) -> str:
    """The quick start's table, as ``run_protocol.py --scale quick`` prints it."""
    for exp in (e for e in experiments if e.folder == folder):
        return '```text\n' + markdown_table(exp.rows, exp.comparison).split('\n\n')[0] + '\n```'
    raise FileNotFoundError(f'no {folder}/results.csv among the results')


def replace_block(text: str, start: str, end: str, body: str, name: str) -> str:
    """``text`` with what lies between the ``start`` and ``end`` markers replaced."""
    i, j = text.find(start), text.find(end)
    if i < 0 or j < i:
        raise ValueError(f'{name}: no {start} ... {end} markers (in that order)')
    return text[:i + len(start)] + '\n' + body + '\n' + text[j:]


def render(root: str, readme: Optional[str] = None,
           configs_dir: Optional[str] = None) -> Dict[str, str]:
    """``{path: the text it should hold}`` for the results README and, when given,
    the main README (its marked blocks replaced)."""
    if configs_dir is None:
        from mmmulti.apis.configs import configs_root
        configs_dir = configs_root()
    experiments = find_experiments(root, configs_dir)
    out = {osp.join(root, 'README.md'): results_readme(experiments, root, configs_dir)}
    if readme:
        text = open(readme).read()
        text = replace_block(text, README_START, README_END,
                             readme_section(experiments, configs_dir), readme)
        if QUICK_START in text:
            text = replace_block(text, QUICK_START, QUICK_END,
                                 quickstart_table(experiments, QUICK_FOLDER), readme)
        out[readme] = text
    return out


def stale(files: Mapping[str, str]) -> List[str]:
    """The paths whose committed text differs from ``files``."""
    return [p for p, text in files.items() if not osp.isfile(p) or open(p).read() != text]


__all__ = ['Experiment', 'find_experiments', 'render', 'stale', 'replace_block']
