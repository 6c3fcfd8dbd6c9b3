"""mmmulti: object detection from several expert readers on MMDetection.

Importing the package registers every component in the ``mmmulti`` scope
(``custom_imports=dict(imports=['mmmulti'])`` in a config does this).
"""
from .version import __version__  # noqa: F401

# mmmulti's registries are children of mmdet's; a child never triggers its
# parent's lazy imports, so mmdet's modules are registered here once.
from mmdet.utils import register_all_modules as _register_mmdet

_register_mmdet(init_default_scope=False)
from . import utils  # noqa: F401,E402  (checkpoint allowlist must be set up early)
from . import io, fusion, datasets, models, evaluation, engine  # noqa: F401,E402

__all__ = ['__version__']
