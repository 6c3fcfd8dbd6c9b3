"""The one entry wrapper of every command-line tool: errors as one line, exit 2.

A user who gives a tool a bad file should read what is wrong and where, not a
traceback from deep inside numpy. Every ``tools/`` script wraps its ``main``
with :func:`cli_entry`:

* a bad input the project recognises (a ``ValueError`` raised by a loader or
  a parameter check, naming the file and the record; a refused pickle) prints
  ``error: FILE: record N: what is wrong`` on stderr and exits 2;
* an OS error (missing file, a folder where a file is expected, no
  permission, disk full) prints ``error: PATH: reason`` and exits 2;
* anything else is a bug: one ``error: internal error ...`` line, exit 1;
* ``--debug`` on the command line re-raises instead, so the traceback shows;
* ``raise SystemExit('error: ...')`` and argparse's own exits pass through
  with the same exit status rule (a message means 2).

numpy- and torch-free, so a tool's ``--help`` stays fast.
"""
from __future__ import annotations

import argparse
import functools
import pickle
import sys
from typing import Callable, List, Optional, Sequence

DEBUG_FLAG = '--debug'
EXIT_BAD_INPUT = 2
EXIT_BUG = 1

# Errors a bad file or argument produces. pickle's errors and EOFError come
# from an empty or garbage .pkl/.pth; UnicodeError and json's decode error
# are ValueErrors already.
KNOWN_ERRORS = (ValueError, pickle.UnpicklingError, EOFError, OverflowError)


def is_bad_input(exc: BaseException) -> bool:
    """A bad file, argument or run setting, not a bug: :data:`KNOWN_ERRORS`,
    or an exception class that sets ``user_error = True`` (e.g. a checkpoint
    that does not fit the model, a non-finite training loss)."""
    return isinstance(exc, KNOWN_ERRORS) or bool(getattr(exc, 'user_error', False))


def add_debug_flag(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Give ``parser`` the ``--debug`` flag every tool has (read by :func:`cli_entry`)."""
    parser.add_argument(DEBUG_FLAG, action='store_true',
                        help='show the full traceback of an error instead of one line')
    return parser


def one_line(text: str) -> str:
    """``text`` with its whitespace (newlines included) folded to single spaces."""
    return ' '.join(str(text).split())


def format_error(exc: BaseException) -> str:
    """The ``error: ...`` line of an exception (no traceback)."""
    if isinstance(exc, OSError):
        name = exc.filename
        reason = exc.strerror or one_line(exc) or type(exc).__name__
        if exc.filename2:
            name = f'{exc.filename} -> {exc.filename2}'
        return f'error: {name}: {reason}' if name else f'error: {reason}'
    if getattr(exc, 'user_error', False):  # its class name is part of the message
        return f'error: {type(exc).__name__}: {one_line(exc)}'
    if isinstance(exc, KNOWN_ERRORS):
        msg = one_line(exc)
        if type(exc) in (pickle.UnpicklingError, EOFError):  # not the refusals
            msg = f'not a readable pickle ({msg or type(exc).__name__})'
        return f'error: {msg or type(exc).__name__}'
    msg = one_line(exc)
    return (f'error: internal error {type(exc).__name__}{": " + msg if msg else ""} '
            f'(rerun with {DEBUG_FLAG} for the traceback, and please report it)')


def exit_status(exc: BaseException) -> int:
    """2 for bad input and OS errors, 1 for anything else."""
    return EXIT_BAD_INPUT if isinstance(exc, OSError) or is_bad_input(exc) else EXIT_BUG


def cli_entry(main: Callable[[List[str]], Optional[int]] = None, *,
              strip_debug: bool = False) -> Callable:
    """Decorate a tool's ``main(argv)`` so that it returns an exit status and
    never shows a traceback unless ``--debug`` is given (module docstring).

    ``main`` receives the argument list (``sys.argv[1:]`` when called with
    None). Its parser should have :func:`add_debug_flag`; for a ``main`` whose
    parser the tool does not own, ``strip_debug=True`` removes the flag first.
    """
    if main is None:
        return functools.partial(cli_entry, strip_debug=strip_debug)

    @functools.wraps(main)
    def wrapper(argv: Optional[Sequence[str]] = None) -> int:
        args = list(sys.argv[1:] if argv is None else argv)
        debug = DEBUG_FLAG in args
        if strip_debug:
            args = [a for a in args if a != DEBUG_FLAG]
        try:
            code = main(args)
        except SystemExit as e:
            if e.code is None or isinstance(e.code, int):
                return e.code or 0
            print(e.code, file=sys.stderr)  # raise SystemExit('error: ...')
            return EXIT_BAD_INPUT
        except KeyboardInterrupt:
            if debug:
                raise
            print('error: interrupted', file=sys.stderr)
            return 130
        except Exception as e:  # noqa: BLE001 - the one place errors become exit codes
            if debug:
                raise
            sys.stdout.flush()
            print(format_error(e), file=sys.stderr)
            return exit_status(e)
        return 0 if code is None else int(code)

    return wrapper


__all__ = ['cli_entry', 'add_debug_flag', 'format_error', 'exit_status', 'one_line',
           'is_bad_input',
           'KNOWN_ERRORS', 'DEBUG_FLAG']
