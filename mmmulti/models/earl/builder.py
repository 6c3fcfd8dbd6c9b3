"""``EARL<Head>`` classes and the config builder ``type='EARL'``.

``earl_class(RetinaHead)`` is the class ``EARL<RetinaHead>``: the family
adapter that :mod:`.table` names for the head class (the built-in families are
registered by importing :mod:`.adapters`) mixed before the head class, made
once per head class and cached. A config writes ``bbox_head=dict(type='EARL',
head_type='RetinaHead', earl=dict(...), **head_kwargs)``; the builder makes that
class and calls it with the head's own arguments plus ``earl``. A head a user
registers works the same way when it subclasses a supported family.
"""
from typing import Dict, Optional, Union

import torch.nn as nn

from mmmulti.registry import MODELS

from . import adapters  # noqa: F401  (registers the built-in families)
from .mixin import EARLHeadMixin
from .options import EARLOptions
from .table import find_earl_adapter, table_version

_EARL_CLASSES: Dict[type, type] = {}
#: the table version the made classes were chosen under
_MADE_UNDER = [table_version()]


def clear_earl_classes() -> None:
    """Forget the made classes (a newly registered adapter may fit better)."""
    _EARL_CLASSES.clear()
    _MADE_UNDER[0] = table_version()


def earl_class(head_cls: type) -> type:
    """The cached ``EARL<head_cls>`` class (``head_cls`` itself if it is one)."""
    if issubclass(head_cls, EARLHeadMixin):
        return head_cls
    if _MADE_UNDER[0] != table_version():
        clear_earl_classes()  # an adapter registered since may fit better
    cls = _EARL_CLASSES.get(head_cls)
    if cls is None:
        adapter = find_earl_adapter(head_cls)
        name = f'EARL<{head_cls.__name__}>'
        cls = type(name, (adapter, head_cls),
                   dict(__module__=__name__, __qualname__=name, __earl_base__=head_cls,
                        __earl_new__=_new_earl_head,
                        __doc__=f'{head_cls.__name__} trained with EARL '
                        f'({adapter.__name__}).'))
        _EARL_CLASSES[head_cls] = cls
    return cls


def _new_earl_head(head_cls: type) -> nn.Module:
    """An empty ``EARL<head_cls>`` instance for unpickling (state set after)."""
    cls = earl_class(head_cls)
    return cls.__new__(cls)


def build_earl_head(head_type: Union[str, type], earl: Optional[dict] = None,
                    **head_kwargs) -> nn.Module:
    """Config builder ``type='EARL'``: the head ``head_type`` built with
    ``head_kwargs``, as ``EARL<head_type>`` with options ``earl``."""
    if head_type in ('EARL', 'mmmulti.EARL'):
        raise ValueError('EARL: head_type must be the head to decorate, not EARL itself')
    if isinstance(head_type, str):
        head_cls = MODELS.get(head_type)
        if head_cls is None:
            raise KeyError(f'EARL: head_type {head_type!r} is not a registered head')
    elif isinstance(head_type, type):
        head_cls = head_type
    else:
        raise TypeError(f'EARL: head_type must be a registered head name, got {head_type!r}')
    options = EARLOptions.from_dict(earl).to_dict()  # validate before building
    return earl_class(head_cls)(earl=options, **head_kwargs)


MODELS.register_module(name='EARL', module=build_earl_head)
