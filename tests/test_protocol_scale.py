"""Scale files are override configs: protocol keys describe the run, every other public key
merges onto each arm's experiment config, `detector_overrides` onto one detector's arms."""
import pytest
from mmengine.config import Config

from conftest import REPO
from mmmulti.protocol.arms import make_arms
from mmmulti.protocol.runner import ProtocolRunner, ProtocolSettings
from mmmulti.protocol.scale import PROTOCOL_KEYS, arm_overrides, load_scale


def _arm_cfg(tmp_path, scale, detector='yolo', arm='wbf_earl'):
    runner = ProtocolRunner(ProtocolSettings(scale_file=str(scale), work_dir=str(tmp_path),
                                             detector=detector, data_root=str(tmp_path / 'd')))
    path = runner.arm_config(make_arms(['R1', 'R2', 'R3'])[arm], 0, str(tmp_path / arm))
    return Config.fromfile(path)


def test_mini_overrides_reach_the_arm_config(tmp_path):
    cfg = _arm_cfg(tmp_path, f'{REPO}/configs/protocol/mini.py')
    # mini's own keys over _cpu_overrides.py's, over configs/earl_yolo.py's
    assert cfg.train_cfg.max_epochs == 9 and cfg.train_cfg.val_interval == 1
    assert cfg.max_epochs == 9
    assert cfg.default_hooks.checkpoint.save_best == 'coco/bbox_mAP'
    assert cfg.default_hooks.checkpoint.max_keep_ckpts == 1  # kept from the base scale
    assert cfg.default_hooks.finite_loss.type == 'FiniteLossHook'  # kept from the arm's
    assert cfg.train_dataloader.batch_size == 16
    assert cfg.train_dataloader.dataset.pipeline[2].scale == (128, 128)
    assert cfg.model.bbox_head.widen_factor == 0.25 and cfg.model.bbox_head.train_size == 128
    assert cfg.model.bbox_head.loss_weights.box == 0.1
    # the arm's own choices survive: EARL head, WBF fusion
    assert cfg.model.bbox_head.type == 'EARL'
    # protocol keys and private helpers are not merged
    for key in (PROTOCOL_KEYS - {'data_root'}) | {'_loader', '_batch_size'}:
        assert key not in cfg, key


def test_detector_overrides_apply_to_their_detector_only(tmp_path):
    scale = load_scale(f'{REPO}/configs/protocol/quick.py')
    own_yolo, common = arm_overrides(scale, 'yolo')
    own_effdet, _ = arm_overrides(scale, 'efficientdet_d3')
    assert own_yolo['model']['backbone']['widen_factor'] == 0.25
    assert own_effdet['model']['backbone'] == {'arch': 'b0'}
    assert 'model' not in common and 'train_cfg' in common
    cfg = _arm_cfg(tmp_path, f'{REPO}/configs/protocol/quick.py', detector='efficientdet_d3')
    assert cfg.train_cfg.max_epochs == 10
    assert cfg.model.backbone.arch == 'b0' and 'widen_factor' not in cfg.model.backbone
    assert cfg.model.bbox_head.anchor_generator.octave_base_scale == 2
    assert cfg.model.bbox_head.anchor_generator.strides == [8, 16, 32, 64, 128]


def test_retired_cfg_layout_is_refused_with_directions(tmp_path):
    old = tmp_path / 'old_scale.py'
    old.write_text("data = dict(num_train=4)\narms = ['baseline']\nseeds = [0]\n"
                   "cfg = dict(common=dict(train_cfg=dict(max_epochs=1)))\n")
    with pytest.raises(ValueError, match=r'old_scale\.py.*top-level keys'):
        load_scale(str(old))


def _train_toy(tmp_path, param_scheduler, max_epochs, iters_per_epoch=2):
    """mmengine's runner on a one-weight model, with a config's LR schedule and length."""
    import torch
    from mmengine.model import BaseModel
    from mmengine.runner import Runner

    class Toy(BaseModel):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(1))

        def forward(self, inputs, data_samples=None, mode='loss'):
            return dict(loss=(self.w * torch.stack(inputs)).sum())

    runner = Runner(
        model=Toy(), work_dir=str(tmp_path / 'toy'), default_scope='mmengine',
        train_dataloader=dict(dataset=[dict(inputs=torch.ones(1))] * (2 * iters_per_epoch),
                              sampler=dict(type='DefaultSampler', shuffle=False),
                              batch_size=2, num_workers=0),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        param_scheduler=param_scheduler,
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        default_hooks=dict(checkpoint=None), env_cfg=dict(dist_cfg=dict(backend='gloo')))
    runner.train()
    return runner


@pytest.mark.parametrize('scale', ['quick', 'mini'])
def test_one_cycle_spans_the_scales_max_epochs(tmp_path, scale):
    """The LR cycle ends exactly at the scale's last iteration, whatever its length: the
    schedules leave `end` to mmengine's runner instead of restating max_epochs."""
    cfg = _arm_cfg(tmp_path, f'{REPO}/configs/protocol/{scale}.py')
    sched = cfg.param_scheduler[0]
    assert sched.type == 'OneCycleLR' and 'end' not in sched and 'total_steps' not in sched
    runner = _train_toy(tmp_path, cfg.param_scheduler, cfg.train_cfg.max_epochs)
    one_cycle = runner.param_schedulers[0]
    assert one_cycle.total_steps == 2 * cfg.train_cfg.max_epochs == runner.iter
    final_lr = sched.eta_max / sched.div_factor / sched.final_div_factor
    assert runner.optim_wrapper.get_lr()['lr'][0] == pytest.approx(final_lr, rel=0.05)


def test_one_cycle_follows_a_max_epochs_override(tmp_path):
    """`--cfg-options train_cfg.max_epochs=N` on a shipped YOLOv5 config: the whole cycle,
    warm-up and annealing, fits the N epochs (not a 60-epoch cycle cut at N)."""
    cfg = Config.fromfile(f'{REPO}/configs/earl_yolo.py')
    runner = _train_toy(tmp_path, cfg.param_scheduler, max_epochs=3)
    sched = cfg.param_scheduler[0]
    assert runner.param_schedulers[0].total_steps == 6
    final_lr = sched.eta_max / sched.div_factor / sched.final_div_factor
    assert runner.optim_wrapper.get_lr()['lr'][0] == pytest.approx(final_lr, rel=0.05)


@pytest.mark.parametrize('detector', ['yolo', 'efficientdet_d3'])
def test_wbf_earl_mean_differs_from_wbf_earl_in_the_normalisation_only(tmp_path, detector):
    """The arm divides the EARL weights by their batch mean for either detector; for the
    YOLOv5 configs that is their own setting, for EfficientDet the change from raw."""
    quick = f'{REPO}/configs/protocol/quick.py'
    plain = _arm_cfg(tmp_path, quick, detector=detector, arm='wbf_earl')
    mean = _arm_cfg(tmp_path, quick, detector=detector, arm='wbf_earl_mean')
    assert mean.model.bbox_head.earl.normalize == 'mean'
    assert plain.model.bbox_head.earl.normalize == ('mean' if detector == 'yolo' else None)
    plain.model.bbox_head.earl.normalize = 'mean'
    for cfg in (plain, mean):
        cfg.pop('work_dir')
    assert plain.to_dict() == mean.to_dict()


@pytest.mark.parametrize('detector', ['yolo', 'efficientdet_d3'])
def test_wbf_arm_is_the_baseline_on_wbf_boxes(tmp_path, detector):
    """The `wbf` arm trains the plain head (no EARL) on the fused boxes wbf_earl fuses:
    the fusion without the agreement weights."""
    quick = f'{REPO}/configs/protocol/quick.py'
    wbf = _arm_cfg(tmp_path, quick, detector=detector, arm='wbf')
    base = _arm_cfg(tmp_path, quick, detector=detector, arm='baseline')
    earl = _arm_cfg(tmp_path, quick, detector=detector, arm='wbf_earl')
    assert wbf.model.bbox_head.type != 'EARL' and 'earl' not in wbf.model.bbox_head
    assert wbf.model == base.model
    assert wbf.train_dataloader.dataset.fusion == earl.train_dataloader.dataset.fusion
    assert base.train_dataloader.dataset.fusion.type == 'AllBoxes'
