"""Atomic file writes: a temporary file in the target's folder, then ``os.replace``.

A tool that is interrupted (Ctrl-C, a full disk, an exception half-way through
``json.dump``) must leave either the old file or the new one, never a truncated
mix; writing in place also destroys the input when a user names it as the
output. Renaming within one folder is atomic on POSIX and Windows.
"""
from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from typing import IO, Any, Iterable, Iterator, Union

PathLike = Union[str, 'os.PathLike[str]']


def _default_mode() -> int:
    """``0o666`` less the umask: what ``open(path, 'w')`` would have created."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def atomic_path(path: PathLike) -> Iterator[str]:
    """Yield a temporary path next to ``path``; on success it replaces ``path``.

    For writers that want a file name (``fig.savefig``, ``np.savez``,
    ``cv2.imwrite``). The temporary name keeps ``path``'s extension, so
    format detection by suffix still works. On an exception the temporary file
    is removed and ``path`` is untouched. A symlink is written through (its
    target is replaced), as ``open(path, 'w')`` would. A path that exists
    and is not a regular file (``/dev/null``, a FIFO, a folder) is refused
    with :class:`NotRegularFileError`: the rename would replace the node.
    """
    path = os.path.realpath(os.fspath(path))
    if os.path.exists(path) and not stat.S_ISREG(os.stat(path).st_mode):
        raise NotRegularFileError(f'{path} exists and is not a regular file (a device, '
                                  'FIFO, socket or folder): refusing to replace it')
    folder = os.path.dirname(os.path.abspath(path))
    base = os.path.basename(path)
    suffix = os.path.splitext(base)[1]
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f'.{base}.', suffix=f'.tmp{suffix}')
    os.close(fd)
    try:
        yield tmp
        if os.path.exists(path):
            os.chmod(tmp, os.stat(path).st_mode & 0o7777)
        else:
            os.chmod(tmp, _default_mode())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


@contextlib.contextmanager
def atomic_write(path: PathLike, mode: str = 'w', **open_kwargs: Any) -> Iterator[IO]:
    """``open(path, mode)`` that only appears at ``path`` once fully written."""
    if 'w' not in mode:
        raise ValueError(f'atomic_write replaces a whole file: mode must be "w" or "wb", '
                         f'got {mode!r}')
    with atomic_path(path) as tmp:
        with open(tmp, mode, **open_kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())


def dump_json_atomic(obj: Any, path: PathLike, **json_kwargs: Any) -> None:
    """``json.dump(obj, open(path, 'w'))``, atomically."""
    with atomic_write(path) as f:
        json.dump(obj, f, **json_kwargs)


class OverwriteInputError(ValueError):
    """An output path names one of the tool's own input files."""


class NotRegularFileError(OverwriteInputError):
    """An output path exists and is a device, FIFO, socket or folder."""


def same_file(a: PathLike, b: PathLike) -> bool:
    """True when ``a`` and ``b`` are one file (links and ``..`` resolved)."""
    a, b = os.fspath(a), os.fspath(b)
    if os.path.exists(a) and os.path.exists(b):
        return os.path.samefile(a, b)
    return os.path.realpath(a) == os.path.realpath(b)


def check_not_input(out: PathLike, inputs: Iterable[PathLike], overwrite: bool = False,
                    flag: str = '--overwrite') -> None:
    """Refuse to write ``out`` over one of ``inputs`` unless ``overwrite``.

    Writing the result over the input destroys the only copy of the data
    (e.g. the readers' boxes replaced by fused boxes); that has to be asked
    for explicitly.
    """
    if overwrite:
        return
    from .output_guard import is_same_file  # also catches hard links
    for inp in inputs:
        if inp is not None and is_same_file(out, inp):
            raise OverwriteInputError(
                f'output {os.fspath(out)} is the input file {os.fspath(inp)}: writing it '
                f'would replace the input. Choose another output path, or pass {flag} '
                'to replace it on purpose.')


__all__ = ['atomic_path', 'atomic_write', 'dump_json_atomic', 'same_file',
           'check_not_input', 'OverwriteInputError', 'NotRegularFileError']
