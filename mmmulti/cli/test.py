"""``mmmulti-test`` / ``python -m mmmulti.cli.test``: ``tools/test.py``'s flags.

    python -m mmmulti.cli.test CONFIG CHECKPOINT [--work-dir DIR] [--out preds.pkl] ...
"""
from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

from mmmulti.utils.cli_errors import cli_entry

from . import add_run_args


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description='Test (and evaluate) a detector (mmmulti)')
    p.add_argument('config', help='test config file path, or a shipped config name')
    p.add_argument('checkpoint', help='checkpoint file')
    p.add_argument('--work-dir', help='the dir to save evaluation logs')
    p.add_argument('--out', help='dump predictions to this .pkl (for tools/ensemble.py)')
    p.add_argument('--show', action='store_true', help='show predictions')
    p.add_argument('--show-dir', help='save drawn predictions under work_dir/timestamp/DIR')
    p.add_argument('--wait-time', type=float, default=2, help='seconds per shown image')
    add_run_args(p)
    return p.parse_args(argv)


@cli_entry
def main(argv: Optional[Sequence[str]] = None) -> None:
    from mmmulti.engine.runner_setup import set_local_rank
    args = parse_args(argv)
    set_local_rank(args.local_rank)
    if args.out is not None:
        if not args.out.endswith(('.pkl', '.pickle')):
            raise SystemExit(f'error: --out must be a .pkl file, got {args.out}')
        from mmmulti.utils.output_guard import check_output_file
        check_output_file(args.out, [args.config, args.checkpoint], what='--out')
    from mmmulti.apis import test
    test(args.config, args.checkpoint, work_dir=args.work_dir, out=args.out,
         show=args.show, show_dir=args.show_dir, wait_time=args.wait_time,
         cfg_options=args.cfg_options, launcher=args.launcher)


if __name__ == '__main__':
    sys.exit(main())
