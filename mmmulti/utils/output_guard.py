"""One check of every output path a tool is about to write, before any work.

A command line names its outputs and inputs side by side, and a slip (the
input typed twice, an output folder inside the image folder, ``/dev/null``
or a FIFO given as the output) must not destroy data:

* an output that exists and is not a regular file (a device, FIFO, socket,
  or a folder where a file is expected) is always refused: the atomic
  rename of :mod:`mmmulti.utils.atomic` would replace the node itself;
* an output that is one of the inputs, after resolving symlinks, ``..`` and
  hard links (same ``st_dev``/``st_ino``), is refused;
* an output inside an input folder (the images a figure is drawn from, the
  DICOMs a converter reads) is refused;

the last two only unless the user passes ``--overwrite``. Writing itself
stays atomic (:func:`mmmulti.utils.atomic.atomic_path`), so an interrupted
tool leaves the old file or the new one. numpy-free, like ``atomic``.
"""
from __future__ import annotations

import os
import stat
from typing import Iterable, Optional, Sequence, Union

from .atomic import OverwriteInputError

PathLike = Union[str, 'os.PathLike[str]']


class UnsafeOutputError(OverwriteInputError):
    """An output path would destroy an input or replace a special file.

    A ``ValueError`` (through :class:`OverwriteInputError`), so every tool's
    entry wrapper prints it as one ``error:`` line with exit status 2.
    """


def _stat(path: str) -> Optional[os.stat_result]:
    try:
        return os.stat(path)  # follows symlinks: the node a write would reach
    except (FileNotFoundError, NotADirectoryError):
        return None


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISREG, 'a file'), (stat.S_ISDIR, 'a directory'), (stat.S_ISFIFO, 'a FIFO'),
                       (stat.S_ISCHR, 'a character device'), (stat.S_ISBLK, 'a block device'),
                       (stat.S_ISSOCK, 'a socket')):
        if test(mode):
            return name
    return 'a special file'


def is_same_file(a: PathLike, b: PathLike) -> bool:
    """True when ``a`` and ``b`` name one file: same inode (hard links,
    symlinks, ``..``) or, where one does not exist yet, the same resolved path."""
    a, b = os.fspath(a), os.fspath(b)
    sa, sb = _stat(a), _stat(b)
    if sa is not None and sb is not None:
        return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)
    return os.path.realpath(a) == os.path.realpath(b)


def is_inside(path: PathLike, folder: PathLike) -> bool:
    """True when ``path`` (resolved) is ``folder`` or lies below it."""
    p = os.path.realpath(os.fspath(path))
    f = os.path.realpath(os.fspath(folder))
    return p == f or p.startswith(f.rstrip(os.sep) + os.sep)


def check_output_file(out: PathLike, inputs: Iterable[Optional[PathLike]] = (),
                      input_dirs: Iterable[Optional[PathLike]] = (),
                      overwrite: bool = False, flag: str = '--overwrite',
                      what: str = 'output', input_what: str = 'input file') -> None:
    """Refuse to write the file ``out`` (see the module docstring).

    ``inputs`` are files the tool reads, ``input_dirs`` folders it reads
    (None entries are skipped); ``what`` and ``input_what`` name them in the
    message. Raises :class:`UnsafeOutputError`.
    """
    out = os.fspath(out)
    st = _stat(out)
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise UnsafeOutputError(
            f'{what} {out} exists and is {_kind(st.st_mode)}, not a regular file: '
            'refusing to replace it; choose a file path')
    if overwrite:
        return
    for inp in inputs:
        if inp is not None and is_same_file(out, inp):
            raise UnsafeOutputError(
                f'{what} {out} is the {input_what} {os.fspath(inp)}: writing it would replace '
                f'the input. Choose another output path, or pass {flag} to replace it on '
                'purpose.')
    for folder in input_dirs:
        if folder is not None and is_inside(out, folder):
            raise UnsafeOutputError(
                f'{what} {out} is inside the input folder {os.fspath(folder)}: writing it '
                f'could replace an input. Choose another output path, or pass {flag}.')


def check_output_dir(out_dir: PathLike, files: Sequence[str] = (),
                     inputs: Iterable[Optional[PathLike]] = (),
                     input_dirs: Iterable[Optional[PathLike]] = (),
                     overwrite: bool = False, flag: str = '--overwrite',
                     what: str = 'output folder') -> None:
    """Refuse an output folder that exists as something else, and each of the
    ``files`` the tool will write in it as :func:`check_output_file` does.

    ``files`` may hold glob-free relative names only; a folder inside an
    input folder is refused as a whole (unless ``overwrite``).
    """
    out_dir = os.fspath(out_dir)
    st = _stat(out_dir)
    if st is not None and not stat.S_ISDIR(st.st_mode):
        raise UnsafeOutputError(f'{what} {out_dir} exists and is {_kind(st.st_mode)}, '
                                'not a folder; choose a folder path')
    input_dirs = [d for d in input_dirs if d is not None]
    if not overwrite:
        for folder in input_dirs:
            if is_inside(out_dir, folder):
                raise UnsafeOutputError(
                    f'{what} {out_dir} is inside the input folder {os.fspath(folder)}: '
                    f'writing there could replace an input. Choose another folder, or '
                    f'pass {flag}.')
    inputs = list(inputs)
    for name in files:
        check_output_file(os.path.join(out_dir, name), inputs, input_dirs, overwrite,
                          flag, what='output')


__all__ = ['UnsafeOutputError', 'check_output_file', 'check_output_dir', 'is_same_file',
           'is_inside']
