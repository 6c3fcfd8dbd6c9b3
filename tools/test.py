"""Evaluate a checkpoint on a config's test set (mmdet's flags)."""
import argparse

from mmdet.evaluation import DumpDetResults
from mmengine.config import DictAction

from mmmulti.engine.launch import shutdown_distributed
from mmmulti.engine.runner_setup import load_config, prepare_test_cfg, set_local_rank
from mmmulti.engine.runners import StrictLoadRunner


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description='Test (and evaluate) a detector (mmmulti)')
    p.add_argument('config', help='test config file path')
    p.add_argument('checkpoint', help='checkpoint file')
    p.add_argument('--work-dir', help='the dir to save evaluation logs')
    p.add_argument('--out', help='dump predictions to this .pkl (for tools/ensemble.py)')
    p.add_argument('--show', action='store_true', help='show predictions')
    p.add_argument('--show-dir', help='save drawn predictions under work_dir/timestamp/DIR')
    p.add_argument('--wait-time', type=float, default=2, help='seconds per shown image')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override config settings, key=value')
    p.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                   default='none', help='job launcher')
    p.add_argument('--local_rank', '--local-rank', type=int, default=0)
    return p.parse_args()


def main() -> None:
    args = parse_args()
    set_local_rank(args.local_rank)
    if args.out is not None and not args.out.endswith(('.pkl', '.pickle')):
        raise SystemExit('--out must be a .pkl file')
    cfg = load_config(args.config, args.cfg_options)
    cfg = prepare_test_cfg(cfg, args.config, args.checkpoint, work_dir=args.work_dir,
                           show=args.show, show_dir=args.show_dir,
                           wait_time=args.wait_time, launcher=args.launcher)
    runner = StrictLoadRunner.from_cfg(cfg)  # a checkpoint that does not fit is an error
    if args.out is not None:
        runner.test_evaluator.metrics.append(DumpDetResults(out_file_path=args.out))
    runner.test()
    del runner  # frees the DDP reducer, which holds the process group
    shutdown_distributed()


if __name__ == '__main__':
    main()
