"""Train a detector from an MMEngine config (mmdet's flags)."""
import argparse

from mmengine.config import DictAction
from mmengine.runner import Runner

from mmmulti.engine.launch import shutdown_distributed
from mmmulti.engine.runner_setup import load_config, prepare_train_cfg, set_local_rank


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description='Train a detector (mmmulti)')
    p.add_argument('config', help='train config file path')
    p.add_argument('--work-dir', help='the dir to save logs and models')
    p.add_argument('--amp', action='store_true', help='automatic mixed precision')
    p.add_argument('--auto-scale-lr', action='store_true', help='scale LR by batch size')
    p.add_argument('--resume', nargs='?', type=str, const='auto',
                   help='resume from this checkpoint, or, with no value, from the '
                   'latest checkpoint in the work dir')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override config settings, key=value')
    p.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                   default='none', help='job launcher')
    p.add_argument('--local_rank', '--local-rank', type=int, default=0)
    return p.parse_args()


def main() -> None:
    args = parse_args()
    set_local_rank(args.local_rank)
    cfg = load_config(args.config, args.cfg_options)
    cfg = prepare_train_cfg(cfg, args.config, work_dir=args.work_dir, amp=args.amp,
                            auto_scale_lr=args.auto_scale_lr, resume=args.resume,
                            launcher=args.launcher)
    runner = Runner.from_cfg(cfg)
    runner.train()
    del runner  # frees the DDP reducer, which holds the process group
    shutdown_distributed()


if __name__ == '__main__':
    main()
