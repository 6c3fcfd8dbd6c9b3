"""ChannelsLastHook: the weights change layout, not identity or value, before the
optimizer steps and before the EMA copies the model."""
import copy

import torch
from torch import nn

from mmmulti.engine import ChannelsLastHook


class _Runner:
    def __init__(self, model):
        self.model = model


def _net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.SiLU(),
                         nn.Conv2d(8, 4, 1))


def test_weights_turn_channels_last_in_place():
    model = _net()
    params = list(model.parameters())
    before = [p.detach().clone() for p in params]
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    ChannelsLastHook().before_run(_Runner(model))
    conv_w = model[0].weight
    assert conv_w.is_contiguous(memory_format=torch.channels_last)
    assert not conv_w.is_contiguous()  # a real layout change for a 3x3 conv
    # the optimizer's parameters are the converted ones: same objects, same values
    assert [id(p) for p in opt.param_groups[0]['params']] == [id(p) for p in params]
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_training_step_matches_nchw():
    """The layout does not change what is computed (to float tolerance), and an
    output of a channels-last model is channels-last (no reorders downstream)."""
    x = torch.randn(2, 3, 16, 16)
    ref, cl = _net(), _net()
    ChannelsLastHook().before_run(_Runner(cl))
    outs = []
    for m in (ref, cl):
        opt = torch.optim.SGD(m.parameters(), lr=0.1)  # AdamW's first step is sign-like
        y = m(x)
        y.square().mean().backward()
        opt.step()
        outs.append((y.detach(), copy.deepcopy(m.state_dict())))
    assert outs[1][0].is_contiguous(memory_format=torch.channels_last)
    assert torch.allclose(outs[0][0], outs[1][0], atol=1e-5)
    for k in outs[0][1]:
        assert torch.allclose(outs[0][1][k].float(), outs[1][1][k].float(), atol=1e-5), k


def test_disabled_hook_leaves_the_model():
    model = _net()
    ChannelsLastHook(enabled=False).before_run(_Runner(model))
    assert model[0].weight.is_contiguous()
