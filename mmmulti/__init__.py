"""mmmulti: object detection from several expert readers on MMDetection.

Importing the package has no side effects and loads neither torch nor mmdet:
components register when a registry of the ``mmmulti`` scope first looks
them up (``default_scope='mmmulti'`` in the configs), and runs are set up
explicitly (:func:`mmmulti.utils.setup_env.setup_run`, called by the tools
and by :mod:`mmmulti.apis`). ``register_all_modules()`` registers everything
at once, as mmdet's function of that name does.
"""
from .utils.setup_env import register_all_modules
from .version import __version__

__all__ = ['__version__', 'register_all_modules']
