"""Run the paper's comparison on one data set over several seeds.

Every trained arm goes through the same entry points a user runs
(``python -m mmmulti.cli.train``, ``python -m mmmulti.cli.test --out``, which
``tools/train.py`` / ``tools/test.py`` wrap) in a subprocess, so a protocol run
is reproducible arm by arm from the configs it writes next to its results, and
works from any directory after a plain ``pip install .``.
Predictions are scored with :func:`mmmulti.evaluation.evaluate_coco_results`
(mAP@0.4 and COCO mAP[.5:.95]); the readers ensemble fuses the single-reader
models' predictions with WBF.
"""
from __future__ import annotations

import json
import os
import os.path as osp
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

from mmengine.config import Config

from mmmulti.apis.configs import configs_root

from .arms import Arm, expand_arms, make_arms
from .parallel import run_parallel, thread_env, threads_per_arm
from .progress import TrainProgress
from .report import read_val_curve, write_reports
from .scale import arm_overrides, load_scale

#: experiment configs of each data set, under the shipped configs folder
DATASET_CONFIG_DIRS = {'med_mnist': '', 'vindr_cxr': 'vindr'}
# Paths inside a data root, as make_med_mnist writes them; a scale file may
# override any of them in its `annotations` dict.
DEFAULT_DATA_PATHS = {'train': 'annotations/train_multi_reader.json',
                      'val': 'annotations/val.json', 'test': 'annotations/test.json',
                      'train_images': 'images/train',
                      # the simulator's clean boxes of the training images (truth arm)
                      'train_truth': 'annotations/train.json',
                      # the simulator's settings and readers (generated data only)
                      'readers': 'annotations/readers.json'}


@dataclass
class ProtocolSettings:
    """What one protocol run does (see ``configs/protocol/*.py`` for scales)."""
    scale_file: str
    work_dir: str
    dataset: str = 'med_mnist'
    detector: str = 'yolo'
    data_root: Optional[str] = None
    arms: Optional[Sequence[str]] = None
    seeds: Optional[Sequence[int]] = None
    extra_cfg: Dict = field(default_factory=dict)
    #: merged into the scale's ``data`` (simulator settings: ``preset``,
    #: ``proficiency``, ``seed``...), as a study sweeps them
    data_overrides: Dict = field(default_factory=dict)


def _log(msg: str) -> None:
    print(f'[protocol {time.strftime("%H:%M:%S")}] {msg}', flush=True)


def _run(cmd: List[str], log_path: str, progress: Optional['TrainProgress'] = None,
         threads: Optional[int] = None) -> None:
    """Run a tool, its output to ``log_path``; on failure show the log's tail.

    With ``progress``, every output line also feeds the live progress line;
    ``threads`` pins the tool's torch threads (arms training side by side).
    """
    env = dict(os.environ, PYTHONUNBUFFERED='1', **thread_env(threads))
    with open(log_path, 'w') as log:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, env=env, text=True, bufsize=1)
        assert proc.stdout is not None
        for line in proc.stdout:
            log.write(line)
            log.flush()  # `tail -f train.log` stays live
            if progress is not None:
                progress.feed(line)
        returncode = proc.wait()
    if progress is not None:
        progress.close()
    if returncode != 0:
        tail = open(log_path).read()[-3000:]
        raise RuntimeError(f'{" ".join(cmd)} failed (exit {returncode}); '
                           f'log {log_path}:\n{tail}')


def _data_overrides(root: str, test_ann: str, val_ann: str) -> Dict:
    root = root.rstrip('/') + '/'
    return {
        'train_dataloader': {'dataset': {'data_root': root}},
        'val_dataloader': {'dataset': {'data_root': root}},
        'test_dataloader': {'dataset': {'data_root': root}},
        'val_evaluator': {'ann_file': root + val_ann},
        'test_evaluator': {'ann_file': root + test_ann},
    }


def _checkpoint(work_dir: str) -> str:
    """The best-on-val checkpoint when the config saves one, else the last."""
    best = sorted(f for f in os.listdir(work_dir) if f.startswith('best_') and f.endswith('.pth'))
    if best:
        return osp.join(work_dir, best[-1])
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return f.read().strip()


#: in each arm's work dir: the config the protocol merged for it
PROTOCOL_CONFIG = 'protocol_config.py'
#: a key one of two compared configs lacks (None is a value a config can hold)
_MISSING = object()


def _flatten(value, prefix: str = '') -> Dict[str, object]:
    if isinstance(value, dict):
        out: Dict[str, object] = {}
        for k, v in value.items():
            out.update(_flatten(v, f'{prefix}.{k}' if prefix else str(k)))
        return out
    if isinstance(value, (list, tuple)):
        out = {f'{prefix}.#len': len(value)}
        for i, v in enumerate(value):
            out.update(_flatten(v, f'{prefix}.{i}'))
        return out
    return {prefix: value}


def config_changes(old: Config, new: Config) -> List[str]:
    """The dotted keys whose values differ between two configs, ``key: old -> new``."""
    # both through the same text round trip, so tuples and lists compare alike
    a = _flatten(Config.fromstring(old.pretty_text, '.py').to_dict())
    b = _flatten(Config.fromstring(new.pretty_text, '.py').to_dict())
    return [f'{k}: {a.get(k, "(absent)")!r} -> {b.get(k, "(absent)")!r}'
            for k in sorted(set(a) | set(b)) if a.get(k, _MISSING) != b.get(k, _MISSING)]


class ProtocolRunner:
    """Trains, tests and scores each arm for each seed; writes the reports."""

    def __init__(self, settings: ProtocolSettings):
        self.s = settings
        self.scale = load_scale(settings.scale_file)
        if settings.data_overrides:
            self.scale.merge_from_dict({'data': dict(settings.data_overrides)})
        self.name = osp.splitext(osp.basename(settings.scale_file))[0]
        self.data_root = settings.data_root or self.scale.get(
            'data_root', f'data/{settings.dataset}_{self.name}')
        self.seeds = list(settings.seeds if settings.seeds is not None else self.scale.seeds)
        self.data_paths = {**DEFAULT_DATA_PATHS, **self.scale.get('annotations', {})}
        self._test_gt = None
        os.makedirs(settings.work_dir, exist_ok=True)

    def data_path(self, key: str) -> str:
        """``train``/``val``/``test`` annotation file or ``train_images`` folder."""
        return osp.join(self.data_root, self.data_paths[key])

    def test_gt(self):
        """The test truth as a pycocotools COCO, loaded once per run."""
        if self._test_gt is None:
            from mmmulti.evaluation.predictions import load_coco_gt
            self._test_gt = load_coco_gt(self.data_path('test'))
        return self._test_gt

    # -- data -----------------------------------------------------------------
    def prepare_data(self) -> None:
        """Generate MED-MNIST at this scale unless it is already there."""
        test_json = self.data_path('test')
        if osp.isfile(test_json):
            if self.s.dataset == 'med_mnist':
                self.check_generated_data()
            _log(f'data: using {self.data_root}')
            return
        if self.s.dataset != 'med_mnist':
            raise FileNotFoundError(
                f'{test_json} not found: convert {self.s.dataset} first (README, "Data")')
        from mmmulti.simulation import make_med_mnist
        _log(f'data: generating MED-MNIST into {self.data_root} ({dict(self.scale.data)})')
        make_med_mnist(self.data_root, **self.scale.data)

    def check_generated_data(self) -> None:
        """Refuse a MED-MNIST folder generated with other settings than the scale's
        ``data``: its numbers would be reported as the scale's."""
        from mmmulti.simulation.provenance import generation_mismatch
        readers_json = self.data_path('readers')
        if not osp.isfile(readers_json):
            _log(f'data: {readers_json} not found: {self.data_root} is not a generated '
                 'MED-MNIST folder, its settings are not checked against the scale')
            return
        diff = generation_mismatch(readers_json, dict(self.scale.data))
        if diff is None:
            _log(f'data: {readers_json} records no settings (made by an older mmmulti): '
                 f'not checked against the scale; delete {self.data_root} to regenerate')
        elif diff:
            raise ValueError(
                f'{self.data_root} was generated with other settings than '
                f'{self.s.scale_file} asks for ({readers_json}):\n  ' + '\n  '.join(diff)
                + f'\nDelete {self.data_root} to generate the scale\'s data there, or give '
                '--data-root another folder.')

    def readers(self) -> List[str]:
        with open(self.data_path('train')) as f:
            data = json.load(f)
        found = {r for im in data['images'] for r in im.get('readers', [])}
        found |= {a['reader'] for a in data['annotations'] if 'reader' in a}
        return sorted(found)

    def draw_fusion(self, num: int = 3) -> str:
        """The paper's Fig. 2 for this data: readers' boxes beside WBF's fused boxes."""
        from mmmulti.visualization import fusion_examples, plot_fusion_comparison
        items, class_names, readers = fusion_examples(self.data_path('train'),
                                                      self.data_path('train_images'), num=num,
                                                      method='wbf', iou_thr=0.4)
        out = osp.join(self.s.work_dir, 'fused_boxes.png')
        plot_fusion_comparison(items, out, class_names, readers,
                               title="Readers' boxes (left) and WBF fusion with "
                               'agreement confidence (right)')
        return out

    # -- arms -----------------------------------------------------------------
    def arm_config(self, arm: Arm, seed: int, work_dir: str) -> str:
        """Write the merged config of ``arm`` for ``seed``; return its path.

        Written twice: ``<arm>.py`` is trained from (mmengine rewrites it in the work
        dir with what the tools add at run time: launcher, ``load_from``, AMP), and
        ``protocol_config.py`` keeps what the protocol merged, for
        :meth:`check_reused_arm` to compare a later run with."""
        cfg = self.merged_arm_config(arm, seed, work_dir)
        out = osp.join(work_dir, f'{arm.name}.py')
        os.makedirs(work_dir, exist_ok=True)
        cfg.dump(out)
        cfg.dump(osp.join(work_dir, PROTOCOL_CONFIG))
        return out

    def merged_arm_config(self, arm: Arm, seed: int, work_dir: str) -> Config:
        """The arm's experiment config with the scale's, the arm's, the data's and the
        command line's overrides merged on, in that order."""
        cfg_dir = DATASET_CONFIG_DIRS[self.s.dataset]
        path = osp.join(configs_root(), cfg_dir, arm.config.format(det=self.s.detector))
        if not osp.isfile(path):
            raise FileNotFoundError(f'arm {arm.name!r} needs config {path}, '
                                    f'which {self.s.dataset} / {self.s.detector} lacks')
        cfg = Config.fromfile(path)
        for overrides in arm_overrides(self.scale, self.s.detector):
            cfg.merge_from_dict(overrides)
        cfg.merge_from_dict(arm.overrides)
        cfg.merge_from_dict(_data_overrides(
            osp.abspath(self.data_root), self.data_paths['test'], self.data_paths['val']))
        cfg.merge_from_dict(self.s.extra_cfg)
        cfg.randomness = dict(seed=seed)
        cfg.work_dir = work_dir
        return cfg

    def check_reused_arm(self, arm: Arm, seed: int, work_dir: str) -> None:
        """Refuse to reuse an arm's predictions when its config has changed since they
        were made (another recipe, data or override): they are not this run's arm."""
        saved = osp.join(work_dir, PROTOCOL_CONFIG)
        if not osp.isfile(saved):
            _log(f'seed {seed} {arm.name}: {saved} not found (a run of an older mmmulti): '
                 'the reused predictions are not checked against this run\'s config; '
                 f'delete {work_dir} to train the arm again')
            return
        changed = config_changes(Config.fromfile(saved),
                                 self.merged_arm_config(arm, seed, work_dir))
        if changed:
            raise ValueError(
                f'{work_dir}: its predictions were made with another config than this '
                f'run merges for arm {arm.name!r}, seed {seed} ({saved}):\n  '
                + '\n  '.join(changed[:10])
                + (f'\n  ... {len(changed) - 10} more' if len(changed) > 10 else '')
                + f'\nDelete {work_dir} to train it again, or give --work-dir another folder.')

    def train_flags(self) -> List[str]:
        """Training flags (``tools/train.py``) of the scale's ``train_flags`` (``amp``,
        ``auto_scale_lr``); GPU-only settings are dropped on a CPU machine."""
        flags = self.scale.get('train_flags', {})
        import torch
        gpu = torch.cuda.is_available()
        out = []
        if flags.get('amp') and gpu:
            out.append('--amp')
        if flags.get('auto_scale_lr'):
            out.append('--auto-scale-lr')
        return out

    def parallel_arms(self) -> int:
        """How many arms train at once: the scale's ``parallel_arms`` (default 1), at
        most one per core."""
        return max(1, min(int(self.scale.get('parallel_arms', 1)), os.cpu_count() or 1))

    def train_arms(self, arms: Sequence[Arm]) -> Dict:
        """Train and test every (trained arm, seed) up front, ``parallel_arms`` at a
        time; ``{}`` when arms train one at a time (then :meth:`run` trains each
        just before scoring it, and the report grows arm by arm)."""
        parallel = self.parallel_arms()
        jobs = [((arm.name, seed), (arm, seed, threads_per_arm(parallel), False))
                for seed in self.seeds for arm in arms if not arm.is_ensemble]
        if parallel <= 1 or len(jobs) <= 1:
            return {}
        _log(f'training {len(jobs)} arm run(s), {parallel} at a time, '
             f'{threads_per_arm(parallel)} torch thread(s) each')
        return run_parallel(self.run_trained_arm, jobs, parallel)

    def run_trained_arm(self, arm: Arm, seed: int, threads: Optional[int] = None,
                        live: bool = True) -> Dict:
        work_dir = osp.abspath(osp.join(self.s.work_dir, f'seed{seed}', arm.name))
        preds = osp.join(work_dir, 'predictions.pkl')
        t0 = time.time()
        if not osp.isfile(preds):
            config = self.arm_config(arm, seed, work_dir)
            _log(f'seed {seed} {arm.name}: training ({osp.relpath(config)}; '
                 f'log {osp.relpath(work_dir)}/train.log)')
            _run([sys.executable, '-m', 'mmmulti.cli.train', config, '--work-dir', work_dir,
                  *self.train_flags()],
                 osp.join(work_dir, 'train.log'),
                 TrainProgress(f'seed {seed} {arm.name}',
                               Config.fromfile(config).train_cfg.get('max_epochs'),
                               live=live),
                 threads)
            _log(f'seed {seed} {arm.name}: testing')
            _run([sys.executable, '-m', 'mmmulti.cli.test', config, _checkpoint(work_dir),
                  '--work-dir', work_dir, '--out', preds], osp.join(work_dir, 'test.log'),
                 threads=threads)
        else:
            self.check_reused_arm(arm, seed, work_dir)
            _log(f'seed {seed} {arm.name}: reusing {osp.relpath(preds)}')
        return dict(predictions=preds, train_seconds=round(time.time() - t0, 1))

    def run_ensemble_arm(self, arm: Arm, seed: int, member_preds: Dict[str, str]) -> Dict:
        from mmmulti.evaluation.ensemble import ensemble_predictions
        from mmmulti.evaluation.predictions import (dump_predictions, image_sizes,
                                                     load_predictions)
        gt = self.test_gt()
        sets = [load_predictions(member_preds[m], gt) for m in arm.members]
        fused = ensemble_predictions(sets, image_sizes(gt), **self.scale.get('ensemble', {}))
        out = osp.join(self.s.work_dir, f'seed{seed}', arm.name, 'predictions.json')
        os.makedirs(osp.dirname(out), exist_ok=True)
        dump_predictions(fused, out)
        _log(f'seed {seed} {arm.name}: fused {len(arm.members)} readers\' models with WBF')
        return dict(predictions=out, train_seconds=0.0)

    def score(self, predictions: str) -> Dict[str, float]:
        from mmmulti.evaluation import evaluate_coco_results
        from mmmulti.evaluation.predictions import load_predictions
        gt = self.test_gt()
        nf = self.scale.get('no_finding') if self.s.dataset == 'vindr_cxr' else None
        res = evaluate_coco_results(gt, load_predictions(predictions, gt), classwise=False,
                                    no_finding=nf)
        return dict(map_40=res['map_40'], map_50_95=res['map_50_95'])

    def bootstrap(self, predictions: Dict[str, str],
                  num_samples: int = 1000) -> Optional[Dict]:
        """Paired bootstrap over test images of every arm against the baseline
        (one-seed runs: the test set is the only spread there is to measure)."""
        if 'baseline' not in predictions or self.s.dataset != 'med_mnist':
            return None
        from mmmulti.evaluation.bootstrap import image_matches, paired_bootstrap
        from mmmulti.evaluation.predictions import load_predictions
        gt = self.test_gt()
        matches = {a: image_matches(gt, load_predictions(p, gt)) for a, p in predictions.items()}
        return {a: paired_bootstrap(m, matches['baseline'], num_samples=num_samples)
                for a, m in matches.items() if a != 'baseline'}

    # -- all ------------------------------------------------------------------
    def run(self) -> Dict[str, str]:
        self.prepare_data()
        fusion_png = self.draw_fusion()
        _log(f'fused-boxes picture: {fusion_png}')
        arms = expand_arms(self.s.arms or self.scale.arms, make_arms(self.readers()))
        _log(f'{self.name}: arms {[a.name for a in arms]}, seeds {self.seeds}, '
             f'detector {self.s.detector}')
        rows: List[Dict] = []
        curves: Dict[str, Dict[int, Dict]] = {}
        last_preds: Dict[str, str] = {}
        trained = self.train_arms(arms)
        for seed in self.seeds:
            member_preds: Dict[str, str] = {}
            for arm in arms:
                if arm.is_ensemble:
                    res = self.run_ensemble_arm(arm, seed, member_preds)
                else:
                    res = trained.get((arm.name, seed)) or self.run_trained_arm(arm, seed)
                    member_preds[arm.name] = res['predictions']
                    curves.setdefault(arm.name, {})[seed] = read_val_curve(
                        osp.dirname(res['predictions']))
                last_preds[arm.name] = res['predictions']
                metrics = self.score(res['predictions'])
                row = dict(arm=arm.name, seed=seed, **metrics,
                           train_seconds=res['train_seconds'])
                _log(f'seed {seed} {arm.name}: mAP@0.4 {row["map_40"]:.4f}  '
                     f'mAP[.5:.95] {row["map_50_95"]:.4f}')
                rows.append(row)
                # Reports after every arm: a long run shows its table as it goes.
                paths = write_reports(rows, self.s.work_dir, self.title(), curves=curves)
        if len(self.seeds) == 1 and len(last_preds) > 1:
            _log('paired bootstrap over test images (1,000 resamples) against the baseline')
            boot = self.bootstrap(last_preds)
            paths = write_reports(rows, self.s.work_dir, self.title(), bootstrap=boot,
                                  curves=curves)
        paths['fused_boxes'] = fusion_png
        return paths

    def title(self) -> str:
        return (f'{self.s.dataset} / {self.name} / {self.s.detector}: '
                f'{len(self.seeds)} seed(s)')


def run_protocol(settings: ProtocolSettings) -> Dict[str, str]:
    """Run a protocol and return the report paths (csv, md, png)."""
    return ProtocolRunner(settings).run()
