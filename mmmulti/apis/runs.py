"""``train()`` and ``test()``: a run from a config, as ``tools/train.py`` and
``tools/test.py`` (and ``mmmulti-train`` / ``mmmulti-test``) do it."""
from __future__ import annotations

from typing import Optional


def train(config: str, *, work_dir: Optional[str] = None, amp: bool = False,
          auto_scale_lr: bool = False, resume: Optional[str] = None,
          cfg_options: Optional[dict] = None, launcher: str = 'none') -> str:
    """Train ``config`` (a path, or a shipped config name) with mmdet's flags;
    returns the work dir (checkpoints, logs, the merged config)."""
    from mmengine.runner import Runner

    from mmmulti.engine.launch import shutdown_distributed
    from mmmulti.engine.runner_setup import load_config, prepare_train_cfg

    from .configs import config_path
    path = config_path(config)
    cfg = load_config(path, cfg_options)
    cfg = prepare_train_cfg(cfg, path, work_dir=work_dir, amp=amp,
                            auto_scale_lr=auto_scale_lr, resume=resume, launcher=launcher)
    runner = Runner.from_cfg(cfg)
    runner.train()
    out = runner.work_dir
    del runner  # frees the DDP reducer, which holds the process group
    shutdown_distributed()
    return out


def test(config: str, checkpoint: str, *, work_dir: Optional[str] = None,
         out: Optional[str] = None, show: bool = False, show_dir: Optional[str] = None,
         wait_time: float = 2, cfg_options: Optional[dict] = None,
         launcher: str = 'none') -> dict:
    """Test ``checkpoint`` with ``config``'s test set and evaluator; returns the
    metrics. ``out``: also dump the predictions to this ``.pkl`` (for
    ``tools/ensemble.py`` and the protocol). A checkpoint that does not fit
    the model is an error (strict load)."""
    from mmdet.evaluation import DumpDetResults

    from mmmulti.engine.launch import shutdown_distributed
    from mmmulti.engine.runner_setup import load_config, prepare_test_cfg
    from mmmulti.engine.runners import StrictLoadRunner

    from .configs import config_path
    if out is not None and not out.endswith(('.pkl', '.pickle')):
        raise ValueError(f'out must be a .pkl file, got {out}')
    path = config_path(config)
    cfg = load_config(path, cfg_options)
    cfg = prepare_test_cfg(cfg, path, checkpoint, work_dir=work_dir, show=show,
                           show_dir=show_dir, wait_time=wait_time, launcher=launcher)
    runner = StrictLoadRunner.from_cfg(cfg)
    if out is not None:
        runner.test_evaluator.metrics.append(DumpDetResults(out_file_path=out))
    metrics = runner.test()
    del runner  # frees the DDP reducer, which holds the process group
    shutdown_distributed()
    return metrics
