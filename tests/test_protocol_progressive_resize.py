"""The quick start's progressive resizing: its first epochs train at 96 px, the last
ones at the full 128 px (mmdet's PipelineSwitchHook swaps the training pipeline once),
while validation and test stay at 128 px throughout."""
from types import SimpleNamespace

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import DefaultScope

from conftest import REPO
from mmmulti.protocol.arms import make_arms
from mmmulti.protocol.runner import ProtocolRunner, ProtocolSettings
from mmmulti.registry import DATASETS, HOOKS

QUICK = f'{REPO}/configs/protocol/quick.py'


@pytest.fixture(scope='module')
def med_mnist_128(tmp_path_factory) -> str:
    """A few MED-MNIST images at the quick start's 128 px."""
    from mmmulti.simulation import make_med_mnist
    root = str(tmp_path_factory.mktemp('med_mnist_128'))
    make_med_mnist(root, num_train=4, num_val=2, num_test=2, img_size=128, seed=0,
                   progress=False)
    return root


def _arm_cfg(tmp_path, arm: str, detector: str = 'yolo') -> Config:
    runner = ProtocolRunner(ProtocolSettings(scale_file=QUICK, work_dir=str(tmp_path),
                                             detector=detector, data_root=str(tmp_path / 'd')))
    return Config.fromfile(runner.arm_config(make_arms(['R1', 'R2', 'R3'])[arm], 0,
                                             str(tmp_path / arm)))


def _switch_hooks(cfg: Config) -> list:
    return [h for h in cfg.custom_hooks if h.type.endswith('PipelineSwitchHook')]


def _resize_scale(pipeline) -> tuple:
    return next(tuple(t['scale']) for t in pipeline if t['type'] == 'Resize')


@pytest.mark.parametrize('detector', ['yolo', 'efficientdet_d3'])
def test_quick_arms_switch_from_96_to_128_px(tmp_path, detector):
    for arm in ('baseline', 'wbf_earl'):
        cfg = _arm_cfg(tmp_path / arm, arm, detector)
        (switch,) = _switch_hooks(cfg)
        assert 0 < switch.switch_epoch < cfg.train_cfg.max_epochs
        assert _resize_scale(cfg.train_dataloader.dataset.pipeline) == (96, 96)
        assert _resize_scale(switch.switch_pipeline) == (128, 128)
        # what validation and test see never changes
        assert _resize_scale(cfg.val_dataloader.dataset.pipeline) == (128, 128)
        assert _resize_scale(cfg.test_dataloader.dataset.pipeline) == (128, 128)
        # the arm's own dataset settings survive the pipeline override (WBF for EARL)
        assert cfg.train_dataloader.dataset.cache_images is True
        if arm == 'wbf_earl':
            assert cfg.train_dataloader.dataset.fusion.type == 'WBF'


def test_switch_hook_resizes_the_arms_training_samples(tmp_path, med_mnist_128):
    """The hook built from the arm's config swaps the data set's pipeline at its epoch,
    not before: samples go from 96 to 128 px, their boxes scaled with them, the
    agreement weights (EARL) untouched."""
    cfg = _arm_cfg(tmp_path, 'wbf_earl')
    ds_cfg = cfg.train_dataloader.dataset
    ds_cfg.data_root = med_mnist_128 + '/'
    with DefaultScope.overwrite_default_scope('mmmulti'):
        dataset = DATASETS.build(ds_cfg)
        (switch,) = _switch_hooks(cfg)
        hook = HOOKS.build(switch)
        MMLogger.get_instance('test_progressive_resize')
        runner = SimpleNamespace(epoch=switch.switch_epoch - 1, logger=MMLogger.get_current_instance(),
                                 train_dataloader=SimpleNamespace(dataset=dataset))
        small = dataset[0]
        hook.before_train_epoch(runner)  # the epoch before the switch: nothing changes
        assert dataset[0]['inputs'].shape[-2:] == (96, 96) == small['inputs'].shape[-2:]
        runner.epoch = switch.switch_epoch
        hook.before_train_epoch(runner)
        full = dataset[0]
    assert full['inputs'].shape[-2:] == (128, 128)
    a, b = small['data_samples'].gt_instances, full['data_samples'].gt_instances
    assert len(a.bboxes) == len(b.bboxes) > 0
    np.testing.assert_allclose(a.bboxes.numpy() * 128 / 96, b.bboxes.numpy(), atol=1e-3)
    for key in a.keys():
        if key != 'bboxes':
            np.testing.assert_array_equal(np.asarray(a[key]), np.asarray(b[key]), err_msg=key)
