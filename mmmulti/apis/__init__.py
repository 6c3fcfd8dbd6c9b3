"""Train, test and find configs from Python, without the source tree.

``tools/train.py``, ``tools/test.py`` and the protocol are thin callers of
these functions (through :mod:`mmmulti.cli`: ``mmmulti-train``, ``mmmulti-test``,
with the tools' flags), so everything works after a plain ``pip install .``
from any directory::

    from mmmulti.apis import config_path, test, train
    work_dir = train(config_path('earl_yolo.py'), work_dir='work_dirs/earl')
    metrics = test(config_path('earl_yolo.py'), f'{work_dir}/epoch_60.pth')
"""
from .configs import config_path, configs_root
from .runs import test, train

__all__ = ['train', 'test', 'config_path', 'configs_root']
