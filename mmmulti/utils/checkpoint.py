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
import inspect
import os.path as osp
import pickle
from typing import Any, Dict, List, Tuple

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


class _AnnealingOwner:
    """Stands in for a param scheduler class while unpickling.

    ``OneCycleParamScheduler`` keeps ``self.anneal_func = self._annealing_cos``
    in its state, which pickle writes as ``getattr(OneCycleParamScheduler,
    '_annealing_cos')``. Allowing the class itself would also let a file call
    it; this stand-in refuses to be called and only yields the annealing
    functions.
    """

    def __init__(self, cls: type, names: List[str]) -> None:
        self.cls, self.names = cls, sorted(names)
        self.__name__ = cls.__name__

    def __repr__(self) -> str:
        return f'<{self.cls.__module__}.{self.cls.__qualname__} (annealing only)>'

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise UnsafeCheckpointError(
            f'refused to call {self.cls.__qualname__} while unpickling: only its '
            f'annealing functions ({", ".join(self.names)}) may be referenced')


def scheduler_annealing_functions() -> Dict[str, Any]:
    """``'module.Class._annealing_x' -> function`` for every annealing function
    defined on an mmengine param scheduler (``_annealing_cos``, ``_annealing_linear``)."""
    import mmengine.optim.scheduler as schedulers
    out: Dict[str, Any] = {}
    for cls in vars(schedulers).values():
        if not inspect.isclass(cls):
            continue
        for name in dir(cls):
            func = getattr(cls, name)
            if name.startswith('_annealing_') and inspect.isfunction(func):
                # keyed by where the function is defined, as pickle names it
                out[f'{func.__module__}.{func.__qualname__}'] = func
    return out


def _annealing_owners() -> List[Tuple[_AnnealingOwner, str]]:
    import importlib
    owners: Dict[str, List[str]] = {}
    for path in scheduler_annealing_functions():
        owner, name = path.rsplit('.', 1)
        owners.setdefault(owner, []).append(name)
    out = []
    for owner, names in owners.items():
        mod_name, cls_name = owner.rsplit('.', 1)
        cls = getattr(importlib.import_module(mod_name), cls_name)
        out.append((_AnnealingOwner(cls, names), owner))
    return out


def _restricted_getattr(obj: Any, name: str) -> Any:
    """Stands in for ``builtins.getattr`` while unpickling.

    mmengine pickles ``HistoryBuffer._statistics_methods`` (``'min'`` ->
    ``HistoryBuffer.min`` ...), written as ``getattr(HistoryBuffer, 'min')``,
    and OneCycle schedulers their annealing function (see
    :class:`_AnnealingOwner`). A general ``getattr`` would let a crafted file
    walk to any object, so only those are reachable.
    """
    from mmengine.logging.history_buffer import HistoryBuffer
    if obj is HistoryBuffer and name in ('min', 'max', 'current', 'mean'):
        return getattr(HistoryBuffer, name)
    if isinstance(obj, _AnnealingOwner) and name in obj.names:
        return getattr(obj.cls, name)
    raise UnsafeCheckpointError(
        f'refused getattr({getattr(obj, "__name__", type(obj).__name__)}, {name!r}) '
        'while unpickling: only HistoryBuffer statistics methods and param '
        'scheduler annealing functions are allowed')


def checkpoint_allowlist() -> List[Any]:
    """The classes and functions an mmengine/mmdet checkpoint may reference."""
    from mmengine.logging.history_buffer import HistoryBuffer
    from mmengine.config.config import ConfigDict
    return [
        HistoryBuffer,
        (_restricted_getattr, 'builtins.getattr'),
        *_annealing_owners(),
        ConfigDict,
        collections.OrderedDict,
        collections.defaultdict,
        *_numpy_globals(),
    ]


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint references a pickled class outside the allowlist."""

    user_error = True  # a refused file, not a bug: one error line naming the class


def _check_checkpoint_format(filename: str) -> None:
    """ValueError unless ``filename`` starts like a torch.save file: a zip
    archive (torch >= 1.6) or a pickle (the legacy format, first byte 0x80).

    Otherwise torch's restricted unpickler reports garbage as an unsupported
    opcode, which reads like an unsafe checkpoint.
    """
    import zipfile
    with open(filename, 'rb') as f:
        head = f.read(2)
    if not head:
        raise ValueError(f'{filename}: not a checkpoint: the file is empty')
    if not (head[:1] == b'\x80' or zipfile.is_zipfile(filename)):
        raise ValueError(f'{filename}: not a PyTorch checkpoint (neither a torch.save zip '
                         'archive nor a pickle)')


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
    _check_checkpoint_format(filename)
    with torch.serialization.safe_globals(checkpoint_allowlist()):
        try:
            return torch.load(filename, map_location=map_location, weights_only=True)
        except EOFError:
            raise ValueError(f'{filename}: not a checkpoint: the file is empty or '
                             'truncated') from None
        except pickle.UnpicklingError as exc:
            if isinstance(exc, UnsafeCheckpointError):
                raise
            if any(s in str(exc) for s in ('invalid load key', 'truncated')):
                raise ValueError(f'{filename}: not a PyTorch checkpoint (garbage or '
                                 'truncated data)') from None
            unknown, why = _refused_names(filename, exc)
            what = (f'refused to unpickle {unknown} — not on the mmmulti checkpoint '
                    'allowlist (mmmulti.utils.checkpoint)' if unknown else
                    f'the restricted loader cannot read it ({why})')
            raise UnsafeCheckpointError(
                f'{filename}: {what}. Loading it unrestricted would let the file run '
                'code. If the file comes from a source you trust, re-save only its '
                'weights there (torch.save({"state_dict": ckpt["state_dict"]}, '
                '"weights.pth")) and load that file, or, if a named class is harmless '
                'data, add it to the allowlist with '
                'torch.serialization.add_safe_globals.') from None


def _refused_names(filename: str, exc: Exception) -> Tuple[str, str]:
    """``(refused globals, reason)``, without torch's advice to load unrestricted."""
    try:
        names = torch.serialization.get_unsafe_globals_in_checkpoint(filename)
    except Exception:  # legacy (non-zip) file: only the error text is available
        names = []
    allowed = {g[1] if isinstance(g, tuple) else f'{g.__module__}.{g.__qualname__}'
               for g in checkpoint_allowlist()}
    unknown = ', '.join(n for n in names if n not in allowed)
    lines = [ln.strip() for ln in str(exc).splitlines()]
    why = next((ln for ln in lines if 'refused' in ln), None) or next(
        (ln for ln in lines if ln.startswith(('Unsupported', 'WeightsUnpickler'))),
        'unknown format')
    if not unknown and 'Unsupported global: GLOBAL ' in why:  # legacy (non-zip) files
        unknown = why.split('Unsupported global: GLOBAL ', 1)[1].split()[0]
    return unknown, why


def _load_from_local(filename: str, map_location: Any = None) -> Any:
    return safe_torch_load(filename, map_location)


def register_safe_checkpoint_loader() -> None:
    """Make mmengine's local-file scheme (``load_from``, ``--resume``,
    ``tools/test.py``) use :func:`safe_torch_load`."""
    CheckpointLoader.register_scheme(prefixes='', loader=_load_from_local, force=True)
