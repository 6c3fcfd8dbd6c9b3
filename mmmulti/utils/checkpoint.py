"""Safe checkpoint loading for mmengine 0.10.7 under torch >= 2.6.

torch >= 2.6 loads with ``weights_only=True`` by default, and mmengine 0.10.7
pickles a few of its own objects into every checkpoint (the message hub's
``HistoryBuffer`` with numpy arrays inside), so ``--resume``, ``load_from`` and
``tools/test.py`` fail with "Unsupported global". Turning unsafe unpickling back
on would let any checkpoint run arbitrary code. Instead we keep
``weights_only=True`` and allow exactly the classes mmengine/mmdet checkpoints
carry; a checkpoint with any other pickled class is refused with an error that
names the class.
"""
from __future__ import annotations

import collections
import os.path as osp
import pickle
from typing import Any, List

import numpy as np
import torch
from mmengine.runner.checkpoint import CheckpointLoader


def _numpy_globals() -> List[Any]:
    """numpy's array/scalar reconstruction entry points (names moved in numpy 2)."""
    out: List[Any] = [np.ndarray, np.dtype]
    for mod_name in ('numpy._core.multiarray', 'numpy.core.multiarray'):
        try:
            mod = __import__(mod_name, fromlist=['_reconstruct', 'scalar'])
        except ImportError:
            continue
        out += [mod._reconstruct, mod.scalar]
    # dtype classes, e.g. numpy.dtypes.Float64DType, appear in numpy>=1.25 pickles
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        out += [getattr(dtypes, n) for n in dir(dtypes) if n.endswith('DType')]
    return out


def _history_buffer_getattr(obj: Any, name: str) -> Any:
    """Stands in for ``builtins.getattr`` while unpickling.

    mmengine pickles ``HistoryBuffer._statistics_methods`` (``'min'`` ->
    ``HistoryBuffer.min`` ...), which pickle writes as ``getattr(HistoryBuffer,
    'min')``. A general ``getattr`` would let a crafted file walk to any object,
    so only those statistics methods are reachable.
    """
    from mmengine.logging.history_buffer import HistoryBuffer
    if obj is HistoryBuffer and name in ('min', 'max', 'current', 'mean'):
        return getattr(HistoryBuffer, name)
    raise UnsafeCheckpointError(
        f'refused getattr({getattr(obj, "__name__", type(obj).__name__)}, {name!r}) '
        'while unpickling: only HistoryBuffer statistics methods are allowed')


def checkpoint_allowlist() -> List[Any]:
    """The classes and functions an mmengine/mmdet checkpoint may reference."""
    from mmengine.logging.history_buffer import HistoryBuffer
    from mmengine.config.config import ConfigDict
    return [
        HistoryBuffer,
        (_history_buffer_getattr, 'builtins.getattr'),
        ConfigDict,
        collections.OrderedDict,
        collections.defaultdict,
        *_numpy_globals(),
    ]


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint references a pickled class outside the allowlist."""


def safe_torch_load(filename: str, map_location: Any = None) -> Any:
    """``torch.load(weights_only=True)`` with the mmengine allowlist.

    Raises:
        FileNotFoundError: the path does not exist.
        UnsafeCheckpointError: the file pickles a class not on the allowlist;
            the message names it (and how to allow it, if trusted).
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint {filename} can not be found.')
    with torch.serialization.safe_globals(checkpoint_allowlist()):
        try:
            return torch.load(filename, map_location=map_location, weights_only=True)
        except pickle.UnpicklingError as exc:
            try:
                names = torch.serialization.get_unsafe_globals_in_checkpoint(filename)
            except Exception:  # not a zip checkpoint: fall back to torch's text
                names = []
            allowed = {g[1] if isinstance(g, tuple) else f'{g.__module__}.{g.__qualname__}'
                       for g in checkpoint_allowlist()}
            unknown = [n for n in names if n not in allowed] or [str(exc).splitlines()[0]]
            raise UnsafeCheckpointError(
                f'{filename}: refused to unpickle {", ".join(unknown)} — not on the '
                'mmmulti checkpoint allowlist (mmmulti.utils.checkpoint). If you trust '
                'this file, add the class with torch.serialization.add_safe_globals '
                'before loading.') from None


def _load_from_local(filename: str, map_location: Any = None) -> Any:
    return safe_torch_load(filename, map_location)


def register_safe_checkpoint_loader() -> None:
    """Make mmengine's local-file scheme (``load_from``, ``--resume``,
    ``tools/test.py``) use :func:`safe_torch_load`."""
    CheckpointLoader.register_scheme(prefixes='', loader=_load_from_local, force=True)
