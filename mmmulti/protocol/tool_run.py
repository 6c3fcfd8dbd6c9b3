"""Running the user's tools (train, test) as subprocesses, each with its log.

Every trained arm goes through the same entry points a user runs, so a
protocol run is reproducible arm by arm; this module runs them, keeps their
output in a log file (and a live progress line), and finds the checkpoint to
test.
"""
from __future__ import annotations

import os
import os.path as osp
import subprocess
import time
from typing import List, Optional

from .parallel import thread_env
from .progress import TrainProgress


def log(msg: str) -> None:
    print(f'[protocol {time.strftime("%H:%M:%S")}] {msg}', flush=True)


def run_tool(cmd: List[str], log_path: str, progress: Optional[TrainProgress] = None,
             threads: Optional[int] = None) -> None:
    """Run a tool, its output to ``log_path``; on failure show the log's tail.

    With ``progress``, every output line also feeds the live progress line;
    ``threads`` pins the tool's torch threads (arms training side by side).
    """
    env = dict(os.environ, PYTHONUNBUFFERED='1', **thread_env(threads))
    with open(log_path, 'w') as log:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, env=env, text=True, bufsize=1)
        assert proc.stdout is not None
        for line in proc.stdout:
            log.write(line)
            log.flush()  # `tail -f train.log` stays live
            if progress is not None:
                progress.feed(line)
        returncode = proc.wait()
    if progress is not None:
        progress.close()
    if returncode != 0:
        tail = open(log_path).read()[-3000:]
        raise RuntimeError(f'{" ".join(cmd)} failed (exit {returncode}); '
                           f'log {log_path}:\n{tail}')


def best_checkpoint(work_dir: str) -> str:
    """The best-on-val checkpoint when the config saves one, else the last."""
    best = sorted(f for f in os.listdir(work_dir) if f.startswith('best_') and f.endswith('.pth'))
    if best:
        return osp.join(work_dir, best[-1])
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return f.read().strip()
