"""projects/example_head, the worked example of a user's own heads: a new EARL
family is a module outside mmmulti (a head and its adapter, registered with
``@register_earl_adapter``), picked up by ``type='EARL'`` with no change inside
mmmulti."""
import copy

import pytest
import torch
from mmdet.models.dense_heads import AnchorHead
from test_earl import HEADS, METAS, assert_losses_equal, head_outputs, make_gts

from mmmulti.models import build_earl_head, find_earl_adapter
from mmmulti.models.earl.table import keeps_methods
from mmmulti.registry import MODELS

example = pytest.importorskip('projects.example_head')


def _cfg(**extra) -> dict:
    cfg = copy.deepcopy(HEADS['retina'])
    cfg.pop('type')
    cfg.update(extra)
    return cfg


def test_the_family_lives_outside_mmmulti_and_the_builder_finds_it():
    head_cls = MODELS.get('MinSizeRetinaHead')
    assert head_cls is example.MinSizeRetinaHead
    # AnchorHead's family would not take it (it overrides get_targets) ...
    assert not keeps_methods(head_cls, AnchorHead, ('get_targets', '_get_targets_single'))
    # ... its own family, registered from projects/, does
    adapter = find_earl_adapter(head_cls)
    assert adapter is example.MinSizeRetinaHeadEARL
    assert adapter.__module__ == 'projects.example_head.min_size_head'
    head = MODELS.build(dict(type='EARL', head_type='MinSizeRetinaHead', **_cfg()))
    assert type(head).__name__ == 'EARL<MinSizeRetinaHead>'
    assert isinstance(head, adapter)


def test_the_new_family_weighs_the_losses_of_its_kept_gts():
    torch.manual_seed(0)
    plain = example.MinSizeRetinaHead(**_cfg(min_gt_size=12))
    earl = build_earl_head('MinSizeRetinaHead', **_cfg(min_gt_size=12))
    earl.load_state_dict(plain.state_dict())
    outs = head_outputs(plain)
    # every weight 1: exactly the plain head's losses
    assert_losses_equal(plain.loss_by_feat(*outs, make_gts(), METAS),
                        earl.loss_by_feat(*outs, make_gts([[1.0] * 3] * 2), METAS))
    # the weights of the kept gts reach the priors; a dropped gt's never does
    gts = make_gts([[0.5, 1.0, 1.0]] * 2)
    kept = [(g.bboxes[:, 2:] - g.bboxes[:, :2] >= 12).all(1) for g in gts]
    earl.loss_by_feat(*outs, gts, METAS)
    w = earl.earl_last_pos_weights
    assert w.numel() > 0
    assert ((w == 0.5).any()) == any(bool(k[0]) for k in kept)
    # a smaller minimum keeps more gts, so at least as many positive priors
    loose = build_earl_head('MinSizeRetinaHead', **_cfg(min_gt_size=0))
    loose.load_state_dict(plain.state_dict())
    loose.loss_by_feat(*outs, make_gts([[0.5, 1.0, 1.0]] * 2), METAS)
    assert loose.earl_last_pos_weights.numel() >= w.numel()
