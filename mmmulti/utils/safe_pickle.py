"""Restricted unpickling of ``tools/test.py --out`` prediction files.

mmdet's ``DumpDetResults`` writes a plain pickle: a list of dicts (or data
elements) holding tensors, numpy arrays, tuples and strings. A plain
``pickle.load`` of such a file runs whatever its ``__reduce__`` names, so a
prediction file received from someone else could run commands on load. Here
only the names those files need resolve; anything else is refused with an
error naming the class, before it is called.

Tensors are the delicate part: ``torch.storage._load_from_bytes`` (how a
pickled tensor carries its storage) calls ``torch.load(weights_only=False)``
on the embedded bytes, a second, unrestricted unpickler. It is replaced by a
``weights_only=True`` load, which accepts storages and nothing executable.
"""
from __future__ import annotations

import functools
import io
import os
import pickle
import warnings
from typing import Any, Callable, Dict, Tuple

import numpy as np


class UnsafePickleError(pickle.UnpicklingError):
    """A prediction pickle references a name outside the allowlist."""

    user_error = True  # a refused file, not a bug: one error line naming the class


def _storage_from_bytes(data: bytes, source: str = 'pickle') -> Any:
    """Stands in for ``torch.storage._load_from_bytes`` (see module docstring)."""
    import torch
    if not isinstance(data, (bytes, bytearray)):
        raise UnsafePickleError(f'{source}: tensor storage payload is not bytes')
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', UserWarning)  # "protocol 4" notices
            return torch.load(io.BytesIO(data), weights_only=True, map_location='cpu')
    except pickle.UnpicklingError as exc:
        lines = str(exc).splitlines()
        why = next((ln.strip() for ln in lines if 'Unsupported' in ln), lines[0])
        raise UnsafePickleError(
            f'{source}: refused a tensor storage that is not plain tensor data ({why}). '
            'Rewrite the file with tools/test.py --out, or convert it to a COCO '
            'results json.') from None


def _latin1_encode(text: str, encoding: str = 'utf-8', errors: str = 'strict') -> bytes:
    """Stands in for ``_codecs.encode``: protocol 2 writes ``bytes`` as
    ``_codecs.encode(str, 'latin1')``; nothing else is allowed through it."""
    if not isinstance(text, str) or encoding not in ('latin1', 'latin-1'):
        raise UnsafePickleError(f'refused _codecs.encode(..., {encoding!r})')
    return text.encode(encoding, errors)


def _numpy_names() -> Dict[Tuple[str, str], Any]:
    """numpy array/scalar/dtype reconstruction names, under old and new module paths."""
    names: Dict[Tuple[str, str], Any] = {('numpy', 'ndarray'): np.ndarray,
                                         ('numpy', 'dtype'): np.dtype}
    # numpy >= 2 moved numpy.core to numpy._core; pickles written by either name
    # the same functions. The old name is mapped without importing it (a
    # deprecated alias that warns on access).
    for real, legacy, attrs in (('numpy._core.multiarray', 'numpy.core.multiarray',
                                 ('_reconstruct', 'scalar')),
                                ('numpy._core.numeric', 'numpy.core.numeric',
                                 ('_frombuffer', ))):
        try:
            mod = __import__(real, fromlist=list(attrs))
        except ImportError:  # numpy < 2: only the old name exists
            real, legacy = legacy, None
            mod = __import__(real, fromlist=list(attrs))
        for attr in attrs:
            if hasattr(mod, attr):
                names[(real, attr)] = getattr(mod, attr)
                if legacy is not None:
                    names[(legacy, attr)] = getattr(mod, attr)
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        for n in dir(dtypes):
            if n.endswith('DType'):
                names[('numpy.dtypes', n)] = getattr(dtypes, n)
    return names


def prediction_allowlist() -> Dict[Tuple[str, str], Any]:
    """``(module, name) -> object`` for every global a prediction pickle may use."""
    import collections

    import torch
    from mmdet.structures import DetDataSample
    from mmengine.structures import BaseDataElement, InstanceData, LabelData, PixelData
    names: Dict[Tuple[str, str], Any] = {
        ('collections', 'OrderedDict'): collections.OrderedDict,
        ('collections', 'defaultdict'): collections.defaultdict,
        ('builtins', 'set'): set,
        ('builtins', 'frozenset'): frozenset,
        ('builtins', 'slice'): slice,
        ('builtins', 'complex'): complex,
        ('builtins', 'bytearray'): bytearray,
        ('_codecs', 'encode'): _latin1_encode,
        ('torch._utils', '_rebuild_tensor_v2'): torch._utils._rebuild_tensor_v2,
        ('torch.storage', '_load_from_bytes'): _storage_from_bytes,
        ('torch', 'Size'): torch.Size,
        ('torch', 'device'): torch.device,
        **_numpy_names(),
    }
    for cls in (BaseDataElement, InstanceData, LabelData, PixelData, DetDataSample):
        names[(cls.__module__, cls.__name__)] = cls
    return names


class PredictionUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` that resolves only :func:`prediction_allowlist` names
    (plus ``torch`` dtypes such as ``torch.float32``)."""

    def __init__(self, file: Any, source: str = 'pickle') -> None:
        super().__init__(file)
        self._source = source
        self._allowed = prediction_allowlist()

    def find_class(self, module: str, name: str) -> Any:
        if module == '__builtin__':  # protocol < 3 spelling of builtins
            module = 'builtins'
        obj = self._allowed.get((module, name))
        if obj is _storage_from_bytes:
            return functools.partial(_storage_from_bytes, source=self._source)
        if obj is not None:
            return obj
        if module == 'torch':
            import torch
            value = getattr(torch, name, None)
            if isinstance(value, torch.dtype):
                return value
        raise UnsafePickleError(
            f'{self._source}: refused to unpickle {module}.{name} — prediction files '
            'may hold only containers, numpy arrays, torch tensors and mmengine/mmdet '
            'data elements (mmmulti.utils.safe_pickle). Rewrite the file with '
            'tools/test.py --out from a trusted checkpoint, or convert it to a COCO '
            'results json.')

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError(f'{self._source}: refused persistent id {pid!r}')


def load_prediction_pickle(path: str) -> Any:
    """Load a ``tools/test.py --out`` file with :class:`PredictionUnpickler`.

    Raises:
        FileNotFoundError: no such file.
        UnsafePickleError: the file names a class or function outside the
            allowlist; nothing it names has been called.
        ValueError: the file is empty, truncated or not a pickle.
    """
    path = os.fspath(path)
    with open(path, 'rb') as f:
        try:
            return PredictionUnpickler(f, source=path).load()
        except UnsafePickleError:
            raise
        except (EOFError, pickle.UnpicklingError, ValueError, TypeError, AttributeError,
                IndexError, KeyError, UnicodeDecodeError) as exc:
            # garbage bytes fail inside the unpickler's opcodes, not in find_class
            why = ' '.join(str(exc).split()) or type(exc).__name__
            raise ValueError(f'{path}: not a prediction pickle of tools/test.py --out '
                             f'(empty, truncated or another format: {why})') from None


__all__ = ['UnsafePickleError', 'PredictionUnpickler', 'load_prediction_pickle',
           'prediction_allowlist']
