"""``mmmulti-train`` / ``python -m mmmulti.cli.train``: ``tools/train.py``'s flags.

    python -m mmmulti.cli.train CONFIG [--work-dir DIR] [--amp] [--resume [CKPT]] ...
"""
from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

from mmmulti.utils.cli_errors import cli_entry

from . import add_run_args


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description='Train a detector (mmmulti)')
    p.add_argument('config', help='train config file path, or a shipped config name')
    p.add_argument('--work-dir', help='the dir to save logs and models')
    p.add_argument('--amp', action='store_true', help='automatic mixed precision')
    p.add_argument('--auto-scale-lr', action='store_true', help='scale LR by batch size')
    p.add_argument('--resume', nargs='?', type=str, const='auto',
                   help='resume from this checkpoint, or, with no value, from the '
                   'latest checkpoint in the work dir')
    add_run_args(p)
    return p.parse_args(argv)


@cli_entry
def main(argv: Optional[Sequence[str]] = None) -> None:
    from mmmulti.engine.runner_setup import set_local_rank
    args = parse_args(argv)
    set_local_rank(args.local_rank)
    from mmmulti.apis import train
    train(args.config, work_dir=args.work_dir, amp=args.amp,
          auto_scale_lr=args.auto_scale_lr, resume=args.resume,
          cfg_options=args.cfg_options, launcher=args.launcher)


if __name__ == '__main__':
    sys.exit(main())
