"""Where the shipped configs are: in the package after an install, else the checkout.

A built (non-editable) install carries ``configs/`` as ``mmmulti/.mim/configs``
(setup.py copies it, as mmdet ships its configs); an editable install or a
source checkout reads ``configs/`` beside the package.
"""
from __future__ import annotations

import os.path as osp

_PACKAGE = osp.dirname(osp.dirname(osp.abspath(__file__)))


def configs_root() -> str:
    """The folder of the shipped configs (``_base_/``, ``protocol/``, ...)."""
    for root in (osp.join(_PACKAGE, '.mim', 'configs'),
                 osp.join(osp.dirname(_PACKAGE), 'configs')):
        if osp.isdir(root):
            return root
    raise FileNotFoundError(f'mmmulti: no shipped configs under {_PACKAGE}/.mim/configs '
                            'nor a configs/ folder beside the package; reinstall mmmulti')


def config_path(name: str) -> str:
    """A shipped config by its path under ``configs/`` (``'earl_yolo.py'``,
    ``'protocol/mini.py'``); an existing file path is returned as it is."""
    if osp.isfile(name):
        return name
    rel = name[len('configs/'):] if name.startswith('configs/') else name
    path = osp.join(configs_root(), rel)
    if not osp.isfile(path):
        raise FileNotFoundError(f'no config {name!r}: not a file, and not under '
                                f'{configs_root()}')
    return path
