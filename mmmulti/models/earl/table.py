"""The table of EARL head families: which adapter a head class gets.

Every family module registers its adapter here with :func:`register_earl_adapter`
(as a decorator, the way a head registers itself in ``MODELS``); the builder
only reads the table (:func:`find_earl_adapter`). The table imports nothing of
the families and nothing of the builder, so the modules of this package point
one way: families -> table -> mixin, builder -> table.
"""
from typing import Callable, List, Optional, Sequence, Tuple, Union

from .mixin import EARLHeadMixin

#: a head class (its subclasses match) or a predicate ``f(head_cls) -> bool``
Matches = Union[type, Callable[[type], bool]]

#: (rank, matches, adapter, what it supports), tried by rank (lowest first)
_ADAPTERS: List[Tuple[float, Callable[[type], bool], type, str]] = []
#: bumped by every registration; the builder drops the classes it made before
_VERSION = [0]


def table_version() -> int:
    """Changes whenever an adapter is registered (a made class may be stale)."""
    return _VERSION[0]


def keeps_methods(cls: type, base: type, names: Sequence[str]) -> bool:
    """``cls`` subclasses ``base`` and does not override ``names``: the head
    assigns and computes its loss exactly as ``base`` does."""
    return issubclass(cls, base) and all(
        getattr(cls, n) is getattr(base, n) for n in names)


def register_earl_adapter(matches: Matches, mixin: Optional[type] = None, *,
                          first: bool = True, rank: Optional[float] = None,
                          supports: str = ''):
    """Teach EARL a head family.

    ``register_earl_adapter(MyHead, MyHeadEARL)``, or as a class decorator
    ``@register_earl_adapter(MyHead)`` on the adapter.

    Args:
        matches: a head class (its subclasses match) or a predicate
            ``f(head_cls) -> bool``.
        mixin: a subclass of :class:`EARLHeadMixin` overriding the head's
            target/loss methods (call ``super()``); it must not add modules.
        first: try it before every adapter registered so far (default), else after.
        rank: an explicit place in the table (the built-in families use
            10, 20, ...; lower is tried first); overrides ``first``.
        supports: the heads it supports, for the error when none fits.
    """
    if mixin is None:
        def decorate(cls: type) -> type:
            register_earl_adapter(matches, cls, first=first, rank=rank, supports=supports)
            return cls
        return decorate
    if not (isinstance(mixin, type) and issubclass(mixin, EARLHeadMixin)):
        raise TypeError(f'EARL adapter {mixin!r} must subclass EARLHeadMixin')
    if isinstance(matches, type):
        base = matches
        matches = lambda cls, base=base: issubclass(cls, base)  # noqa: E731
    if rank is None:
        ranks = [r for r, *_ in _ADAPTERS] or [0.0]
        rank = min(ranks) - 1 if first else max(ranks) + 1
    _ADAPTERS.append((rank, matches, mixin, supports or mixin.__name__))
    _ADAPTERS.sort(key=lambda entry: entry[0])  # stable: equal ranks keep their order
    _VERSION[0] += 1
    return mixin


def supported() -> Tuple[str, ...]:
    """What the registered families support, in the order they are tried."""
    return tuple(s for *_, s in _ADAPTERS)


def find_earl_adapter(head_cls: type) -> type:
    """The adapter mixin for ``head_cls``; TypeError when none fits."""
    for _, matches, mixin, _ in _ADAPTERS:
        if matches(head_cls):
            return mixin
    raise TypeError(
        f'EARL: no adapter for {head_cls.__name__}. Supported: {supported()}. A head that '
        'subclasses one of these and keeps its target and loss methods works as is; '
        'otherwise register an adapter with mmmulti.models.register_earl_adapter')
