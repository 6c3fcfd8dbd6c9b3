"""Explicit set-up of a run: registration and the safe checkpoint loader.

Importing ``mmmulti`` has no side effects. Components register lazily when
a registry of the ``mmmulti`` scope first looks one up (see
:mod:`mmmulti.registry`); the tools and :mod:`mmmulti.apis` call
:func:`setup_run` where a run is set up, as mmdet's tools call its
``register_all_modules``.
"""
from __future__ import annotations


def register_all_modules(init_default_scope: bool = True) -> None:
    """Register every mmmulti and mmdet component now (mmdet's function of the
    same name, for this scope). With ``init_default_scope`` the default scope
    becomes ``mmmulti``."""
    from mmdet.utils import register_all_modules as register_mmdet
    register_mmdet(init_default_scope=False)
    import mmmulti.datasets  # noqa: F401
    import mmmulti.engine  # noqa: F401
    import mmmulti.evaluation  # noqa: F401
    import mmmulti.fusion  # noqa: F401
    import mmmulti.models  # noqa: F401
    import mmmulti.visualization  # noqa: F401
    if init_default_scope:
        from mmengine.registry import init_default_scope as init_scope
        init_scope('mmmulti')


def setup_run(init_default_scope: bool = False) -> None:
    """What a train / test / predict run needs before it builds anything:
    every component registered, and mmengine's local checkpoint loading routed
    through the restricted unpickler (:mod:`mmmulti.utils.checkpoint`)."""
    register_all_modules(init_default_scope=init_default_scope)
    from mmmulti.utils.checkpoint import register_safe_checkpoint_loader
    register_safe_checkpoint_loader()
