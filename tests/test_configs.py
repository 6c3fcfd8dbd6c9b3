"""Every shipped config parses and builds its model; the paper's YOLOv5 config
trains under tools/dist_train.sh with 2 CPU processes at tiny sizes."""
import glob
import os.path as osp
import sys

import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope

from conftest import REPO
from test_foundation import data_opts, run_tool

CONFIGS = sorted(
    osp.relpath(p, REPO) for p in
    glob.glob(osp.join(REPO, 'configs', '**', '*.py'), recursive=True)
    if '_base_' not in p and osp.basename(p) != '_cpu_overrides.py'
    and '/protocol/' not in p)


@pytest.mark.parametrize('path', CONFIGS)
def test_config_builds(path):
    import mmmulti  # noqa: F401
    from mmmulti.registry import MODELS
    cfg = Config.fromfile(osp.join(REPO, path))
    assert cfg.default_scope == 'mmmulti'
    with DefaultScope.overwrite_default_scope('mmmulti'):
        model = MODELS.build(cfg.model)
    head = model.bbox_head
    if cfg.model.bbox_head.type == 'EARL':
        assert type(head).__name__.startswith('EARL<')
    assert head.num_classes == cfg.model.bbox_head.num_classes
    if 'vindr' in path:
        assert head.num_classes == 14
    loader = cfg.train_dataloader.dataset
    assert loader.type == 'MultiAnnotatorCocoDataset' or 'tiny' in path or 'examples' in path


def test_protocol_scales_parse():
    for scale in ('quick', 'mini', 'paper', 'tiny'):
        cfg = Config.fromfile(osp.join(REPO, 'configs', 'protocol', f'{scale}.py'))
        assert cfg.arms and cfg.seeds and cfg.data.num_train > 0


def test_dist_train_earl_yolo_two_cpu_processes(tiny_med_mnist, tmp_path):
    """configs/earl_yolo.py itself (YOLOv5-S, WBF + EARL), shrunk by --cfg-options."""
    opts = data_opts(tiny_med_mnist)[1:]
    tiny = [
        'train_cfg.max_epochs=1', 'train_dataloader.batch_size=2',
        'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
        'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False',
        'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False',
        'train_dataloader.dataset.pipeline.2.scale=(64,64)',
        'train_dataloader.dataset.pipeline.3.size=(64,64)',
        'val_dataloader.dataset.pipeline.1.scale=(64,64)',
        'val_dataloader.dataset.pipeline.2.size=(64,64)',
        'model.backbone.widen_factor=0.125', 'model.neck.widen_factor=0.125',
        'model.bbox_head.widen_factor=0.125', 'model.bbox_head.train_size=64',
    ]
    _, out = run_tool(['bash', 'tools/dist_train.sh', 'configs/earl_yolo.py', '2',
                       '--work-dir', str(tmp_path), '--cfg-options', *opts, *tiny],
                      env={'PORT': '29617'})
    assert 'Distributed training: True' in out
    assert 'EARL<YOLOv5Head>' in out or 'loss_box' in out
    assert 'Epoch(train) [1]' in out and 'coco/map_40' in out
    assert osp.isfile(osp.join(tmp_path, 'epoch_1.pth'))
