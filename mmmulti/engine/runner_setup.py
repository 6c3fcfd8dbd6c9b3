"""Config adjustments shared by ``tools/train.py`` and ``tools/test.py``.

They follow mmdet's tools flag for flag, so users keep their habits; the
difference is that mmmulti also launches on CPU-only machines (see
:mod:`mmmulti.engine.launch`) and checks paths early with short errors.
"""
from __future__ import annotations

import os
import os.path as osp
from typing import Optional, Sequence

from mmengine.config import Config

from .launch import setup_distributed


def load_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    """Read a config (with ``--cfg-options`` merged) and set up the run:
    every component registered, checkpoints read by the restricted loader."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'config file {path} does not exist')
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    from mmmulti.utils.setup_env import setup_run
    setup_run()
    return cfg


def _default_work_dir(cfg: Config, config_path: str, work_dir: Optional[str]) -> None:
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(config_path))[0])


def check_data_roots(cfg: Config, splits: Sequence[str]) -> None:
    """Fail fast, with the config key, when a dataloader's data is missing."""
    for split in splits:
        loader = cfg.get(f'{split}_dataloader')
        if not loader:
            continue
        ds = loader.get('dataset', {})
        while 'dataset' in ds:  # wrappers: RepeatDataset, MultiImageMixDataset, ...
            ds = ds['dataset']
        root = ds.get('data_root', '') or ''
        ann = ds.get('ann_file')
        if root and not osp.isdir(root):
            raise FileNotFoundError(
                f'{split}_dataloader.dataset.data_root: {root} does not exist '
                '(generate data with tools/dataset_converters/, or fix the path)')
        if ann:
            path = ann if osp.isabs(ann) or not root else osp.join(root, ann)
            if not osp.isfile(path):
                raise FileNotFoundError(
                    f'{split}_dataloader.dataset.ann_file: {path} does not exist')


def prepare_train_cfg(cfg: Config, config_path: str, *, work_dir: Optional[str] = None,
                      amp: bool = False, auto_scale_lr: bool = False,
                      resume: Optional[str] = None, launcher: str = 'none') -> Config:
    """Apply ``tools/train.py`` flags to ``cfg`` (mmdet semantics)."""
    _default_work_dir(cfg, config_path, work_dir)
    if amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.loss_scale = 'dynamic'
    if auto_scale_lr:
        if 'enable' in cfg.get('auto_scale_lr', {}) and \
                'base_batch_size' in cfg.auto_scale_lr:
            cfg.auto_scale_lr.enable = True
        else:
            raise RuntimeError('Can not find "auto_scale_lr" or "auto_scale_lr.enable" '
                               'or "auto_scale_lr.base_batch_size" in your configuration file.')
    if resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif resume is not None:
        if not osp.isfile(resume):
            raise FileNotFoundError(f'--resume checkpoint {resume} does not exist')
        cfg.resume = True
        cfg.load_from = resume
    check_data_roots(cfg, ('train', 'val'))
    setup_distributed(cfg, launcher)
    return cfg


def prepare_test_cfg(cfg: Config, config_path: str, checkpoint: str, *,
                     work_dir: Optional[str] = None, show: bool = False,
                     show_dir: Optional[str] = None, wait_time: float = 2,
                     launcher: str = 'none') -> Config:
    """Apply ``tools/test.py`` flags to ``cfg`` (mmdet semantics)."""
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint {checkpoint} does not exist')
    _default_work_dir(cfg, config_path, work_dir)
    cfg.load_from = checkpoint
    if show or show_dir:
        hooks = cfg.default_hooks
        if 'visualization' not in hooks:
            raise RuntimeError('"visualization" not in default_hooks: cannot --show')
        hooks.visualization.draw = True
        hooks.visualization.show = show
        hooks.visualization.wait_time = wait_time
        if show_dir:
            hooks.visualization.test_out_dir = show_dir
    check_data_roots(cfg, ('test',))
    setup_distributed(cfg, launcher)
    return cfg


def set_local_rank(local_rank: int) -> None:
    """torch.distributed.launch passes ``--local-rank``; torchrun sets the env."""
    os.environ.setdefault('LOCAL_RANK', str(local_rank))


__all__ = ['load_config', 'prepare_train_cfg', 'prepare_test_cfg', 'check_data_roots',
           'set_local_rank']
