"""Command-line entry points (``mmmulti-train``, ``mmmulti-test``): the tools' flags
over :mod:`mmmulti.apis`."""
from __future__ import annotations

import argparse

from mmengine.config import DictAction


def add_run_args(p: argparse.ArgumentParser) -> None:
    """The flags train and test share, as mmdet's tools spell them."""
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override config settings, key=value')
    p.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                   default='none', help='job launcher')
    p.add_argument('--local_rank', '--local-rank', type=int, default=0)
    from mmmulti.utils.cli_errors import add_debug_flag
    add_debug_flag(p)
