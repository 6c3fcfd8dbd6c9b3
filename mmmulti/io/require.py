"""Refuse a file of the wrong kind for a tool, with a hint at the right one.

``load_multi_reader_coco`` reads three kinds of file (readers' boxes, fused
boxes, single truth). A fused file given where the readers' boxes are
expected loads fine and fuses again, one "reader" per image: the result
looks plausible and is wrong. Tools that need readers call
:func:`require_readers`.
"""
from __future__ import annotations

import os
from typing import Any

HINTS = {
    'fused': 'it is a fused file (its boxes carry confidence/agreement and no reader '
             'ids): give the readers\' boxes it was made from, e.g. '
             'annotations/train_multi_reader.json',
    'single_truth': 'it is a single-truth COCO file (no reader ids, no "readers" lists): '
                    'give a multi-reader file',
}


def require_readers(src: Any, path: Any, purpose: str = 'fuse') -> None:
    """``ValueError`` unless ``src`` (a ``MultiReaderCoco``) is a readers' file.

    ``purpose`` completes "nothing to ..." in the message.
    """
    kind = getattr(src, 'kind', None)
    if kind == 'multi_reader':
        return
    hint = HINTS.get(kind, f'its kind is {kind!r}')
    raise ValueError(f'{os.fspath(path)}: a {kind} file has no readers to {purpose}: {hint}')


__all__ = ['require_readers']
