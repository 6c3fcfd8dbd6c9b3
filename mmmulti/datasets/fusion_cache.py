"""On-disk cache of a data set's fused truth.

Fusing a large multi-reader file takes longer than reading it; a training run
(and every process of a distributed one) would pay it again at each start.
The cache key covers everything the fused boxes depend on: the annotation
file's *content* (sha256, not its name or mtime), ``reader_key``, the reader
restriction, the fusion config (minus settings that do not change the result:
``progress``, ``workers``), the mmmulti version, :data:`CACHE_FORMAT` and a
digest of the truth-inference source (:func:`fusion_code_digest`: a change of
a method's code or of its defaults, which a config does not spell out, must
not read back boxes the old code fused). A changed input thus maps
to a new file; stale files are never read, only left behind.

Stored with ``numpy.savez`` (arrays + one JSON string), read back with
``allow_pickle=False``: loading a cache file never runs code.
"""
import hashlib
import json
import os
import os.path as osp
import tempfile
import warnings
import zipfile
import zlib
from collections import Counter
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from mmmulti.version import __version__

#: Times a cache file was read (``hit``), missing (``miss``) and written
#: (``write``) in this process; tests and logs use it.
CACHE_STATS: Counter = Counter()

#: fusion settings that do not change the fused boxes
_NOT_IN_KEY = ('progress', )

#: bumped when loading or fusion changes its output for the same file and
#: config (2: agreement counts distinct readers, exact duplicates dropped; 3: the
#: project's own WBF, float64 coordinates), so entries written by older code are
#: never read back
CACHE_FORMAT = 3


_CODE_DIGEST: Optional[str] = None


def fusion_code_digest() -> str:
    """sha256 of the source files fused boxes depend on (``mmmulti/fusion``,
    ``mmmulti/io``, ``mmmulti/structures.py``), computed once per process."""
    global _CODE_DIGEST
    if _CODE_DIGEST is None:
        root = osp.dirname(osp.dirname(osp.abspath(__file__)))
        files = [osp.join(root, 'structures.py')]
        for sub in ('fusion', 'io'):
            folder = osp.join(root, sub)
            files += [osp.join(folder, f) for f in sorted(os.listdir(folder))
                      if f.endswith('.py')]
        h = hashlib.sha256()
        for path in files:
            h.update(osp.relpath(path, root).encode())
            with open(path, 'rb') as f:
                h.update(f.read())
        _CODE_DIGEST = h.hexdigest()
    return _CODE_DIGEST


def default_cache_dir() -> str:
    """``$MMMULTI_CACHE_DIR``, else ``$XDG_CACHE_HOME/mmmulti/fusion``, else
    ``~/.cache/mmmulti/fusion``."""
    env = os.environ.get('MMMULTI_CACHE_DIR')
    if env:
        return env
    base = os.environ.get('XDG_CACHE_HOME') or osp.join(
        osp.expanduser('~'), '.cache')
    return osp.join(base, 'mmmulti', 'fusion')


def file_digest(path: str, chunk: int = 1 << 22) -> str:
    """sha256 of a file's content."""
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(chunk), b''):
            h.update(block)
    return h.hexdigest()


def _plain(obj: Any) -> Any:
    """A JSON-able copy of a config (ConfigDict, tuples, numpy scalars)."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    return repr(obj)


def cache_key(content_digest: str, reader_key: str,
              readers: Optional[Sequence[str]], fusion_cfg: dict,
              strict_geometry: bool = False) -> str:
    """The hex key of one (file content, loading options, fusion) triple."""
    fusion_cfg = {k: v for k, v in _plain(fusion_cfg).items()
                  if k not in _NOT_IN_KEY}
    payload = dict(content=content_digest, reader_key=reader_key,
                   readers=sorted(str(r) for r in readers)
                   if readers is not None else None,
                   fusion=fusion_cfg, strict_geometry=bool(strict_geometry),
                   version=__version__, format=CACHE_FORMAT, code=fusion_code_digest())
    text = json.dumps(payload, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def cache_path(cache_dir: str, ann_file: str, key: str) -> str:
    stem = osp.splitext(osp.basename(ann_file))[0]
    return osp.join(cache_dir, f'{stem}-{key[:24]}.npz')


def save_fused(path: str, meta: dict, boxes: List[np.ndarray],
               labels: List[np.ndarray], scores: List[np.ndarray],
               agreements: List[np.ndarray]) -> None:
    """Write per-image fused arrays + JSON meta atomically (tmp + rename), so
    concurrent processes never read a half-written file."""
    os.makedirs(osp.dirname(path) or '.', exist_ok=True)
    sizes = np.array([len(b) for b in boxes], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)

    def cat(arrs, dtype, shape):
        return (np.concatenate(arrs).astype(dtype) if arrs else
                np.zeros(shape, dtype))

    fd, tmp = tempfile.mkstemp(dir=osp.dirname(path) or '.', suffix='.tmp.npz')
    os.close(fd)
    try:
        np.savez(tmp, meta=np.array(json.dumps(meta)), offsets=offsets,
                 boxes=cat([b.reshape(-1, 4) for b in boxes], np.float32, (0, 4)),
                 labels=cat(labels, np.int64, (0, )),
                 scores=cat(scores, np.float32, (0, )),
                 agreements=cat(agreements, np.int64, (0, )))
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)
    CACHE_STATS['write'] += 1


def load_fused(path: str, key: str) -> Optional[Dict[str, Any]]:
    """The cached entry, or None when absent, unreadable or of another key.

    A damaged file (truncated by a full disk or a killed copy) is a cache
    miss with a warning naming it; the caller then fuses again and replaces
    it. Crashing on a cache would make a stale file block training.
    """
    if not osp.exists(path):
        CACHE_STATS['miss'] += 1
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z['meta']))
            if meta.get('key') != key:
                CACHE_STATS['miss'] += 1
                return None
            off = z['offsets']
            arrays = {k: z[k] for k in ('boxes', 'labels', 'scores',
                                        'agreements')}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile,
            zlib.error) as e:
        warnings.warn(f'fusion cache {path} is unreadable ({type(e).__name__}: {e}); '
                      f'treating it as a cache miss and fusing again', stacklevel=2)
        CACHE_STATS['miss'] += 1
        return None
    n = len(off) - 1
    out: Dict[str, Any] = dict(meta=meta)
    for k, v in arrays.items():
        out[k] = [v[off[i]:off[i + 1]] for i in range(n)]
    CACHE_STATS['hit'] += 1
    return out
