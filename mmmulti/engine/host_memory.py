"""glibc's allocator policy for CPU training: freed activations stay for reuse.

A CPU training step frees and allocates the same activation tensors every
iteration (YOLOv5-n at 128 px, batch 16: 4 MB each at the first stride).
glibc serves blocks above its mmap threshold with a fresh ``mmap`` and gives
them back with ``munmap`` when freed, so the kernel zero-fills every page of
them again at the next iteration: the quick start's two training processes
made 17 million page faults and spent 41 of their 565 CPU seconds in the
kernel. Raising the mmap threshold to glibc's maximum (32 MB) and the trim
threshold to 1 GB keeps those blocks in the heap, where the next iteration
reuses them (docs/speed.md). Only where memory comes from changes: every
result is the same to the last bit. Allocations above 32 MB are mmapped as
before; the heap keeps up to about the run's peak once reached.

``mallopt`` is glibc's documented tuning call (``man 3 mallopt``); on another
C library (musl, macOS) the hook does nothing and says so in the log.
"""
from __future__ import annotations

import ctypes
import ctypes.util
from typing import Optional

from mmengine.hooks import Hook

from mmmulti.registry import HOOKS

#: mallopt's parameter numbers (glibc's malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
#: the largest mmap threshold glibc accepts on 64-bit machines (HEAP_MAX_SIZE / 2)
MMAP_THRESHOLD_MAX = 32 * 1024 * 1024
TRIM_THRESHOLD = 1024 * 1024 * 1024


def _glibc() -> Optional[ctypes.CDLL]:
    name = ctypes.util.find_library('c')
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        getattr(libc, 'gnu_get_libc_version')  # glibc only
        return libc
    except (OSError, AttributeError):
        return None


def keep_freed_memory(mmap_threshold: int = MMAP_THRESHOLD_MAX,
                      trim_threshold: int = TRIM_THRESHOLD) -> bool:
    """Set glibc's mmap and trim thresholds for this process; ``False`` where
    the C library is not glibc or refuses a value (nothing changed then)."""
    libc = _glibc()
    if libc is None:
        return False
    ok = libc.mallopt(M_MMAP_THRESHOLD, int(mmap_threshold)) == 1
    return ok and libc.mallopt(M_TRIM_THRESHOLD, int(trim_threshold)) == 1


@HOOKS.register_module()
class KeepFreedMemoryHook(Hook):
    """Apply :func:`keep_freed_memory` at ``before_run``: train, validation and
    test runs of a config that lists it all get the policy, whichever tool
    starts them (``tools/train.py``, ``tools/test.py``, the protocol)."""

    priority = 'VERY_HIGH'

    def __init__(self, mmap_threshold: int = MMAP_THRESHOLD_MAX,
                 trim_threshold: int = TRIM_THRESHOLD) -> None:
        if not 0 < mmap_threshold <= MMAP_THRESHOLD_MAX:
            raise ValueError(f'mmap_threshold must be in (0, {MMAP_THRESHOLD_MAX}] '
                             f'(glibc refuses larger values), got {mmap_threshold}')
        if trim_threshold <= 0:
            raise ValueError(f'trim_threshold must be > 0, got {trim_threshold}')
        self.mmap_threshold = mmap_threshold
        self.trim_threshold = trim_threshold

    def before_run(self, runner) -> None:
        if keep_freed_memory(self.mmap_threshold, self.trim_threshold):
            runner.logger.info(f'glibc malloc: mmap threshold {self.mmap_threshold} B, '
                               f'trim threshold {self.trim_threshold} B (freed tensors '
                               'are reused, not returned to the kernel)')
        else:
            runner.logger.info('KeepFreedMemoryHook: the C library is not glibc, or it '
                               'refused the thresholds; its default policy is kept')
