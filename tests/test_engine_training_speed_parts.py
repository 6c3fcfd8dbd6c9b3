"""Two-group optimizer constructor and the batched EMA: same training maths as
mmengine's per-parameter groups and mmdet's ExpMomentumEMA."""
import pytest
import torch
import torch.nn as nn
from mmdet.models.layers import ExpMomentumEMA
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope

from mmmulti.engine import DecayGroupsOptimWrapperConstructor  # noqa: F401  (register)
from mmmulti.models.layers import BatchedExpMomentumEMA


def small_net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.Conv2d(8, 4, 1, bias=False), nn.GroupNorm(2, 4),
                         nn.Flatten(), nn.LazyLinear(5))


def decay_of(optimizer):
    return {id(p): g['weight_decay'] for g in optimizer.param_groups for p in g['params']}


def test_two_groups_decay_like_mmengine_paramwise():
    init_default_scope('mmmulti')
    net = small_net()
    net(torch.rand(1, 3, 8, 8))  # materialise the lazy layer
    base = dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05))
    ref = build_optim_wrapper(net, dict(base, paramwise_cfg=dict(norm_decay_mult=0.0,
                                                                  bias_decay_mult=0.0)))
    ours = build_optim_wrapper(net, dict(base, constructor='DecayGroupsOptimWrapperConstructor'))
    assert len(ours.optimizer.param_groups) == 2
    assert decay_of(ours.optimizer) == decay_of(ref.optimizer)
    assert sorted(decay_of(ours.optimizer).values()).count(0.05) == 3  # conv, conv, linear


def test_paramwise_cfg_is_refused():
    init_default_scope('mmmulti')
    with pytest.raises(ValueError, match='paramwise_cfg'):
        build_optim_wrapper(small_net(), dict(
            type='OptimWrapper', constructor='DecayGroupsOptimWrapperConstructor',
            optimizer=dict(type='SGD', lr=0.1), paramwise_cfg=dict(norm_decay_mult=0.0)))


@pytest.mark.parametrize('interval, update_buffers', [(1, True), (2, True), (1, False)])
def test_batched_ema_equals_mmdet_bit_for_bit(interval, update_buffers):
    net = small_net()
    net(torch.rand(2, 3, 8, 8))
    kw = dict(momentum=0.0002, gamma=50, interval=interval, update_buffers=update_buffers)
    ref, ours = ExpMomentumEMA(net, **kw), BatchedExpMomentumEMA(net, **kw)
    for _ in range(7):
        with torch.no_grad():
            for p in net.parameters():
                p.add_(torch.randn_like(p) * 0.1)
        net.train()(torch.rand(2, 3, 8, 8))  # moves the BN running stats
        ref.update_parameters(net)
        ours.update_parameters(net)
    assert ref.steps == ours.steps == 7
    for (k, a), b in zip(ref.module.state_dict().items(), ours.module.state_dict().values()):
        assert torch.equal(a, b), k


def test_batched_ema_follows_replaced_sources():
    """The sources are looked up through their modules at every step: a parameter
    whose storage is replaced (``model.to(memory_format=...)``) or a buffer
    reassigned after the first update is still the one averaged, as with mmdet's
    ``state_dict()`` walk."""
    net = small_net()
    net(torch.rand(2, 3, 8, 8))
    kw = dict(momentum=0.0002, gamma=50, update_buffers=True)
    ref, ours = ExpMomentumEMA(net, **kw), BatchedExpMomentumEMA(net, **kw)
    for step in range(6):
        if step == 3:
            net.to(memory_format=torch.channels_last)
            net[1].running_mean = net[1].running_mean.clone() + 1.0
        with torch.no_grad():
            for p in net.parameters():
                p.add_(torch.randn_like(p) * 0.1)
        net.train()(torch.rand(2, 3, 8, 8))
        ref.update_parameters(net)
        ours.update_parameters(net)
    assert ours._owner_list is not None  # the lookup path, not the fallback
    # the EMA's own state (what checkpoints keep) holds the averages only
    assert list(ours.state_dict()) == list(ref.state_dict())
    assert not list(ours.children())[1:]  # its averaged copy, no other submodule
    for (k, a), b in zip(ref.module.state_dict().items(), ours.module.state_dict().values()):
        assert torch.equal(a, b), k


def test_batched_ema_falls_back_for_sources_it_cannot_own():
    """An average on another device than its source is not looked up through the
    module (the state_dict path, which moves the source, takes it)."""
    net = small_net()
    net(torch.rand(2, 3, 8, 8))
    ours = BatchedExpMomentumEMA(net, momentum=0.0002, gamma=50, update_buffers=True)
    ours.update_parameters(net)
    key, avg = next(iter(ours.avg_parameters.items()))
    assert ours._find_owners(net) is not None
    ours.avg_parameters[key] = torch.empty(avg.shape, device='meta')
    assert ours._find_owners(net) is None
