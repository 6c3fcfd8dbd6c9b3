"""Distributed launch on CUDA *and* CPU.

mmengine 0.10.7's pytorch launcher calls ``torch.cuda.set_device``
unconditionally and its DDP wrapper passes ``device_ids=[LOCAL_RANK]``; both
fail on a CPU-only torch. When CUDA is absent we initialise a gloo process
group ourselves before the Runner starts (mmengine then skips its own init) and
ask for DDP without ``device_ids``. With CUDA, mmengine's nccl path is used.
"""
from __future__ import annotations

import gc
import os

import torch
import torch.distributed as dist
from mmengine.config import Config


def setup_distributed(cfg: Config, launcher: str) -> None:
    """Prepare ``cfg`` (and the process group, on CPU) for ``launcher``."""
    cfg.launcher = launcher
    if launcher == 'none' or torch.cuda.is_available():
        return
    if launcher != 'pytorch':
        raise RuntimeError(
            f'launcher {launcher!r} needs CUDA; on a CPU-only machine use '
            '--launcher pytorch (tools/dist_train.sh does).')
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo')
    env_cfg = cfg.setdefault('env_cfg', {})
    env_cfg.setdefault('dist_cfg', {})['backend'] = 'gloo'
    wrapper = cfg.get('model_wrapper_cfg') or dict(type='MMDistributedDataParallel')
    wrapper['device_ids'] = None
    wrapper.setdefault('broadcast_buffers', False)
    cfg.model_wrapper_cfg = wrapper
    # One process per core pair at most: avoid oversubscription on CPU.
    world = int(os.environ.get('WORLD_SIZE', '1'))
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // world))


def shutdown_distributed() -> None:
    """Leave the process group cleanly at the end of a successful run.

    Call it after dropping the last reference to the Runner. A DDP-wrapped
    model's C++ reducer holds the process group: while it lives,
    ``destroy_process_group`` cannot free the group, whose threads then meet
    the interpreter's exit, and a rank aborts after the work is done
    ("terminate called without an active exception", SIGABRT, exit 1; measured
    in 2 of 43 two-process CPU runs of tools/dist_train.sh that did call
    ``destroy_process_group``, 0 of 55 once the runner was collected first).
    Collecting the runner first frees the reducer;
    the barrier lets every rank finish its last collective before any rank
    tears down. Call it only after success: after an error the other ranks may
    never reach the barrier.
    """
    if not (dist.is_available() and dist.is_initialized()):
        return
    gc.collect()  # the runner's DDP reducer, and with it its hold on the group
    try:
        dist.barrier()
    finally:
        dist.destroy_process_group()
