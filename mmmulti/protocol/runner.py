"""Run the paper's comparison on one data set over several seeds.

Every trained arm goes through the same entry points a user runs
(``python -m mmmulti.cli.train``, ``python -m mmmulti.cli.test --out``, which
``tools/train.py`` / ``tools/test.py`` wrap) in a subprocess
(:mod:`.tool_run`), so a protocol run is reproducible arm by arm from the
configs it writes next to its results (:mod:`.arm_config`), and works from any
directory after a plain ``pip install .``.
Predictions are scored with :func:`mmmulti.evaluation.evaluate_coco_results`
(mAP@0.4 and COCO mAP[.5:.95]); the readers ensemble fuses the single-reader
models' predictions with WBF. The data side is :mod:`.data`; each arm's
training time is kept with it (:mod:`.train_time`); the run's wall time per
stage is printed at the end and written to ``timings.json`` (:mod:`.timings`).
"""
from __future__ import annotations

import os
import os.path as osp
import sys
import time
from typing import Dict, List, Optional, Sequence

from mmengine.config import Config

from mmmulti.apis.configs import configs_root

from .arm_config import PROTOCOL_CONFIG, config_changes, data_overrides
from .arms import Arm, expand_arms, make_arms
from .data import ProtocolData
from .parallel import run_parallel, threads_per_arm
from .progress import TrainProgress
from .report import read_val_curve, write_reports
from .scale import arm_overrides
from .settings import DATASET_CONFIG_DIRS, DEFAULT_DATA_PATHS, ProtocolSettings
from .timings import TIMINGS_FILE, StageTimes
from .tool_run import best_checkpoint, log as _log, run_tool
from .train_time import read_train_seconds, record_train_seconds

__all__ = ['ProtocolRunner', 'ProtocolSettings', 'run_protocol', 'config_changes',
           'PROTOCOL_CONFIG', 'DATASET_CONFIG_DIRS', 'DEFAULT_DATA_PATHS']


class ProtocolRunner(ProtocolData):
    """Trains, tests and scores each arm for each seed; writes the reports."""

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
        cfg.merge_from_dict(data_overrides(
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
        """Train and test the arm, or reuse its predictions when its config is
        unchanged. ``train_seconds`` is the arm's training time either way (kept
        in its work dir; ``None`` when unknown); ``stages`` the wall seconds of
        what this call did (``train`` and ``test``, or ``reuse``)."""
        work_dir = osp.abspath(osp.join(self.s.work_dir, f'seed{seed}', arm.name))
        preds = osp.join(work_dir, 'predictions.pkl')
        t0 = time.perf_counter()
        if not osp.isfile(preds):
            config = self.arm_config(arm, seed, work_dir)
            _log(f'seed {seed} {arm.name}: training ({osp.relpath(config)}; '
                 f'log {osp.relpath(work_dir)}/train.log)')
            run_tool([sys.executable, '-m', 'mmmulti.cli.train', config, '--work-dir',
                      work_dir, *self.train_flags()],
                     osp.join(work_dir, 'train.log'),
                     TrainProgress(f'seed {seed} {arm.name}',
                                   Config.fromfile(config).train_cfg.get('max_epochs'),
                                   live=live),
                     threads)
            t1 = time.perf_counter()
            record_train_seconds(work_dir, t1 - t0)
            _log(f'seed {seed} {arm.name}: testing')
            run_tool([sys.executable, '-m', 'mmmulti.cli.test', config,
                      best_checkpoint(work_dir), '--work-dir', work_dir, '--out', preds],
                     osp.join(work_dir, 'test.log'), threads=threads)
            stages = dict(train=t1 - t0, test=time.perf_counter() - t1)
        else:
            self.check_reused_arm(arm, seed, work_dir)
            _log(f'seed {seed} {arm.name}: reusing {osp.relpath(preds)}')
            stages = dict(reuse=time.perf_counter() - t0)
        seconds = read_train_seconds(work_dir)
        if seconds is None:
            _log(f'seed {seed} {arm.name}: its training time is not recorded '
                 f'({work_dir} has no train_time.json or mmengine training log): '
                 'train_seconds left blank')
        return dict(predictions=preds, train_seconds=seconds, stages=stages)

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
        from mmmulti.evaluation.bootstrap import image_matches, paired_bootstraps
        from mmmulti.evaluation.predictions import load_predictions
        gt = self.test_gt()
        matches = {a: image_matches(gt, load_predictions(p, gt)) for a, p in predictions.items()}
        return paired_bootstraps(matches, 'baseline', num_samples=num_samples)

    # -- all ------------------------------------------------------------------
    def run(self) -> Dict[str, str]:
        times = StageTimes()
        with times.stage('data'):
            self.prepare_data()
        with times.stage('fused-boxes picture (WBF)'):
            fusion_png = self.draw_fusion()
        _log(f'fused-boxes picture: {fusion_png}')
        arms = expand_arms(self.s.arms or self.scale.arms, make_arms(self.readers()))
        _log(f'{self.name}: arms {[a.name for a in arms]}, seeds {self.seeds}, '
             f'detector {self.s.detector}')
        rows: List[Dict] = []
        curves: Dict[str, Dict[int, Dict]] = {}
        last_preds: Dict[str, str] = {}
        t0 = time.perf_counter()
        trained = self.train_arms(arms)
        if trained:  # side by side: one wall time for all of them
            times.add(f'train + test {len(trained)} arm run(s), '
                      f'{self.parallel_arms()} at a time', time.perf_counter() - t0)
            for (arm_name, seed), res in trained.items():
                for stage, seconds in res['stages'].items():
                    times.add_part(f'seed {seed} {arm_name}: {stage}', seconds)
        for seed in self.seeds:
            member_preds: Dict[str, str] = {}
            for arm in arms:
                if arm.is_ensemble:
                    with times.stage(f'seed {seed} {arm.name}: ensemble (WBF)'):
                        res = self.run_ensemble_arm(arm, seed, member_preds)
                else:
                    res = trained.get((arm.name, seed))
                    if res is None:
                        res = self.run_trained_arm(arm, seed)
                        for stage, seconds in res['stages'].items():
                            times.add(f'seed {seed} {arm.name}: {stage}', seconds)
                    member_preds[arm.name] = res['predictions']
                    curves.setdefault(arm.name, {})[seed] = read_val_curve(
                        osp.dirname(res['predictions']))
                last_preds[arm.name] = res['predictions']
                with times.stage(f'seed {seed} {arm.name}: score + report'):
                    metrics = self.score(res['predictions'])
                    row = dict(arm=arm.name, seed=seed, **metrics,
                               train_seconds=res['train_seconds'])
                    _log(f'seed {seed} {arm.name}: mAP@0.4 {row["map_40"]:.4f}  '
                         f'mAP[.5:.95] {row["map_50_95"]:.4f}')
                    rows.append(row)
                    # Reports after every arm: a long run shows its table as it goes.
                    paths = write_reports(rows, self.s.work_dir, self.title(),
                                          curves=curves)
        if len(self.seeds) == 1 and len(last_preds) > 1:
            _log('paired bootstrap over test images (1,000 resamples) against the baseline')
            with times.stage('paired bootstrap + final report'):
                boot = self.bootstrap(last_preds)
                paths = write_reports(rows, self.s.work_dir, self.title(), bootstrap=boot,
                                      curves=curves)
        paths['fused_boxes'] = fusion_png
        paths['timings'] = osp.join(self.s.work_dir, TIMINGS_FILE)
        times.write(paths['timings'])
        print(f'wall time per stage ({paths["timings"]}):\n{times.table()}', flush=True)
        return paths

    def title(self) -> str:
        return (f'{self.s.dataset} / {self.name} / {self.s.detector}: '
                f'{len(self.seeds)} seed(s)')


def run_protocol(settings: ProtocolSettings) -> Dict[str, str]:
    """Run a protocol and return the report paths (csv, md, png)."""
    return ProtocolRunner(settings).run()
