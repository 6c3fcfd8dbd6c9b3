"""The base class of every fusion method, and the agreement confidence.

Pure numpy: fusion runs before any model exists, so it must not pull in torch
or mmdet. The data types (``ImageReads``, ``FusedBoxes``) live in
:mod:`mmmulti.structures`.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Iterable, List, Optional, Sequence

import numpy as np

from mmmulti.structures import FusedBoxes, ImageReads


def progress(iterable: Iterable, total: int, desc: str, enabled: bool) -> Iterable:
    """A tqdm bar over ``iterable`` when enabled (long runs must show progress)."""
    if not enabled:
        return iterable
    from tqdm import tqdm
    return tqdm(iterable, total=total, desc=desc, unit='img', mininterval=0.5)


class BaseFusion:
    """Fuses the readers' boxes of an image into one set of boxes.

    Subclasses implement :meth:`fuse`. :meth:`fuse_dataset` maps it over a data
    set; dataset-level methods (reader reliability) override it.

    Args:
        progress (bool): show a progress bar in :meth:`fuse_dataset` when the
            data set has more than ``progress_min`` images.
    """

    progress_min = 2000

    def __init__(self, progress: bool = True) -> None:
        self.progress = progress

    def fuse(self, reads: ImageReads) -> FusedBoxes:
        raise NotImplementedError

    def fuse_dataset(self, reads: Sequence[ImageReads]) -> List[FusedBoxes]:
        it = progress(reads, len(reads), type(self).__name__,
                      self.progress and len(reads) > self.progress_min)
        return [self.fuse(r) for r in it]

    def config(self) -> dict:
        """The method's settings, as written to ``info.fusion`` of a fused COCO."""
        cfg = dict(type=type(self).__name__)
        for k, v in vars(self).items():
            # fitted records, not settings: config() feeds cache keys
            if k.startswith('_') or k in ('progress', 'reader_estimates', 'em',
                                          'dropped_by_agreement'):
                continue
            if isinstance(v, (int, float, str, bool, type(None), list, tuple, dict)):
                cfg[k] = v
        return cfg

    def __repr__(self) -> str:
        args = ', '.join(f'{k}={v!r}' for k, v in self.config().items() if k != 'type')
        return f'{type(self).__name__}({args})'


def agreement_confidence(count: np.ndarray, num_readers: int) -> tuple:
    """c = min(count, R) / R and the capped count (the paper's definition);
    ``count`` is the distinct readers agreeing (:func:`distinct_readers`)."""
    count = np.asarray(count, dtype=np.int64)
    if num_readers <= 0:
        return np.zeros(len(count), np.float32), count
    capped = np.minimum(count, num_readers)
    return (capped / num_readers).astype(np.float32), capped


def distinct_readers(reads: ImageReads, members: Sequence[Sequence[int]]) -> np.ndarray:
    """Agreement of each cluster: the distinct readers among its member boxes.

    Counting boxes instead would let one reader who drew a finding twice (a
    duplicated CSV row, two overlapping boxes) vote twice for it.
    """
    who = reads.readers
    return np.array([len({who[i] for i in m}) for m in members], dtype=np.int64)


@dataclass
class EMTrace:
    """How an EM fit ended: rounds run, the last change, and whether it
    converged (the change fell below ``tol``) or stopped at ``max_iter``.

    A fit that stops at its limit is not an estimate to trust silently:
    :func:`run_em` warns, and fusion methods record this in the fused file's
    ``info.fusion.em``.
    """

    iterations: int = 0
    delta: float = 0.0
    converged: bool = True
    max_iter: int = 0
    tol: float = 0.0

    def as_dict(self) -> dict:
        return dict(iterations=self.iterations, delta=self.delta, converged=self.converged,
                    max_iter=self.max_iter, tol=self.tol)

    @classmethod
    def from_dict(cls, d: dict) -> 'EMTrace':
        """The trace :meth:`as_dict` wrote (other keys, e.g. a nested fit's
        record, are ignored)."""
        return cls(**{k: d[k] for k in ('iterations', 'delta', 'converged', 'max_iter', 'tol')
                      if k in d})

    def describe(self) -> str:
        state = ('converged' if self.converged else
                 f'NOT converged: stopped at max_iter={self.max_iter}')
        return (f'{self.iterations} round(s), last change {self.delta:.2e} '
                f'(tol {self.tol:g}), {state}')


class EMNotConvergedWarning(UserWarning):
    """An EM fit reached ``max_iter`` before its change fell below ``tol``."""


DEFAULT_EM_HINT = 'raise max_iter (--max-iter) or tol (--tol)'


def run_em(post: np.ndarray, m_step, e_step, max_iter: int, tol: float,
           name: str = 'EM', hint: str = DEFAULT_EM_HINT) -> tuple:
    """EM from the posteriors ``post``: ``m_step(post)`` fits the model,
    ``e_step()`` returns new posteriors; stops when none moves by more than
    ``tol`` or after ``max_iter`` rounds. The model is fitted once more on the
    last posteriors and those of the final model are returned, so that one
    image fused later under the model gets the same ones. Returns
    ``(posteriors, EMTrace)``; with no posteriors, nothing is fitted. Warns
    (:class:`EMNotConvergedWarning`, naming the fit ``name`` and saying what
    to change, ``hint``) when it stops at ``max_iter``."""
    trace = EMTrace(max_iter=int(max_iter), tol=float(tol))
    if not len(post):
        return post, trace
    trace.converged = False
    for rounds in range(1, max_iter + 1):
        m_step(post)
        new = e_step()
        delta = float(np.abs(new - post).max())
        post = new
        trace.iterations, trace.delta = rounds, delta
        if delta < tol:
            trace.converged = True
            break
    if not trace.converged:
        warn_not_converged(name, trace, hint)
    m_step(post)
    return e_step(), trace


def em_fits(em, label: str = 'em') -> list:
    """``[(label, trace dict)]`` for a method's ``em`` record (``None``: no
    fit): the record itself, then every fit nested in it -- a dict value that
    is a trace too, e.g. PresenceWBF's ``em_class``, labelled ``em.em_class``."""
    if not isinstance(em, dict):
        return []
    out = [(label, em)] if 'converged' in em else []
    for k, v in em.items():
        if isinstance(v, dict):
            out += em_fits(v, f'{label}.{k}')
    return out


def em_report_lines(label: str, em: Optional[dict],
                    hint: str = DEFAULT_EM_HINT) -> List[str]:
    """The lines a ``report()`` prints about one EM fit: how it ended
    (:meth:`EMTrace.describe`) and, when it stopped at max_iter, a warning."""
    if not em:
        return []
    trace = EMTrace.from_dict(em)
    lines = [f'{label}: {trace.describe()}']
    if not trace.converged:
        lines.append(f'WARNING: {label} reached max_iter={trace.max_iter} without converging '
                     f'({hint}); its estimates may not be settled')
    return lines


def warn_not_converged(name: str, trace: EMTrace, hint: str = DEFAULT_EM_HINT) -> None:
    """The one warning every EM fit gives when it stops at its limit."""
    warnings.warn(f'{name}: EM stopped at max_iter={trace.max_iter} without converging '
                  f'(last change {trace.delta:.2e} > tol {trace.tol:g}); {hint}, and treat '
                  'its estimates with care', EMNotConvergedWarning, stacklevel=3)


__all__ = ['ImageReads', 'FusedBoxes', 'BaseFusion', 'agreement_confidence',
           'distinct_readers', 'progress', 'run_em', 'EMTrace', 'EMNotConvergedWarning',
           'warn_not_converged', 'em_fits', 'em_report_lines']
