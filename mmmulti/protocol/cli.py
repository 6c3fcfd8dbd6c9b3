"""Run the paper's comparison (arms x seeds) on MED-MNIST or VinDr-CXR.

Examples:
    python tools/run_protocol.py --scale quick        # the README quick start
    python tools/run_protocol.py --scale mini --seeds 0 1 2
    python tools/run_protocol.py --scale paper        # GPU
    python -m mmmulti.protocol --scale tiny           # the same, after pip install .
"""
from __future__ import annotations

import argparse
import os.path as osp
from typing import Optional, Sequence

from mmengine.config import DictAction


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--scale', default='mini',
                   help='quick | mini | paper | tiny (the shipped configs/protocol/), or a '
                   'path to a scale file like configs/protocol/mini.py')
    p.add_argument('--dataset', default='med_mnist', choices=['med_mnist', 'vindr_cxr'])
    p.add_argument('--detector', default='yolo',
                   choices=['yolo', 'efficientdet_d3', 'efficientdet_d4'])
    p.add_argument('--arms', nargs='+', help='arms to run (default: the scale\'s): '
                   'truth, baseline, wbf, wbf_earl, wbf_earl_mean, reliability_wbf_earl, '
                   'allboxes_earl, soft_wbf_earl, dawid_skene_earl, presence_earl, '
                   'reader_model_earl, calibrated_earl, single_readers, '
                   'single_reader_<R>, readers_ensemble (mmmulti/protocol/arms.py)')
    p.add_argument('--seeds', nargs='+', type=int, help='training seeds (default: the scale\'s)')
    p.add_argument('--data-root', help='data set root (default data/<dataset>_<scale>)')
    p.add_argument('--work-dir', help='default work_dirs/protocol_<dataset>_<scale>')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='overrides merged into every arm\'s config')
    return p.parse_args(argv)


def resolve_scale(scale: str) -> tuple:
    """``(scale file, scale name)`` of a shipped scale name or a scale file path."""
    from mmmulti.apis.configs import config_path
    path = config_path(scale if scale.endswith('.py') else f'protocol/{scale}.py')
    return path, osp.splitext(osp.basename(path))[0]


def main(argv: Optional[Sequence[str]] = None) -> None:
    from .runner import ProtocolSettings, run_protocol
    args = parse_args(argv)
    scale_file, name = resolve_scale(args.scale)
    settings = ProtocolSettings(
        scale_file=scale_file, dataset=args.dataset, detector=args.detector,
        data_root=args.data_root, arms=args.arms, seeds=args.seeds,
        work_dir=args.work_dir or osp.join('work_dirs', f'protocol_{args.dataset}_{name}'),
        extra_cfg=args.cfg_options or {})
    paths = run_protocol(settings)
    print(open(paths['md']).read())
    print('\n'.join(f'{k}: {v}' for k, v in paths.items()))


if __name__ == '__main__':
    main()
