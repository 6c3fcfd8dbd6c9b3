"""Training several arms at once on a few CPU cores.

On 2 cores, one training process with 2 torch threads gets 1.5x the speed of
1 thread (YOLOv5-n, 128 px, batch 16: 115 against 175 ms per step), while two
1-thread processes side by side each keep about 158 ms: together 1.2x more
images per second than the 2-thread process, and each one's start-up,
validation and test overlap the other's training (docs/speed.md). A scale asks
for it with ``parallel_arms = 2``; each arm's subprocesses then run with
``cores // parallel_arms`` threads (``OMP_NUM_THREADS``), so the thread count,
and with it the arithmetic, is the scale's on any machine with that many cores.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Dict, Hashable, List, Optional, Sequence, Tuple, TypeVar

T = TypeVar('T')


def threads_per_arm(parallel: int, cores: Optional[int] = None) -> Optional[int]:
    """Torch threads for each of ``parallel`` arms training at once; ``None`` (the
    process's default) when arms train one at a time."""
    if parallel <= 1:
        return None
    return max(1, (cores or os.cpu_count() or 1) // parallel)


def thread_env(threads: Optional[int]) -> Dict[str, str]:
    """Environment that pins a subprocess's torch / OpenMP / MKL thread pools."""
    if threads is None:
        return {}
    return {k: str(threads) for k in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS')}


def run_parallel(fn: Callable[..., T], jobs: Sequence[Tuple[Hashable, tuple]],
                 workers: int) -> Dict[Hashable, T]:
    """``{key: fn(*args)}`` for ``jobs`` = ``[(key, args), ...]``, at most ``workers``
    at a time (threads: the work itself runs in subprocesses). Every job runs to
    its end; then the first failure, in job order, is raised."""
    if workers <= 1 or len(jobs) <= 1:
        return {key: fn(*args) for key, args in jobs}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures: List = [(key, pool.submit(fn, *args)) for key, args in jobs]
    return {key: fut.result() for key, fut in futures}
