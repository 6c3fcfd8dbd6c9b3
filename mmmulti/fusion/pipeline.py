"""File-level truth inference: multi-reader COCO in, fused COCO out."""
from __future__ import annotations

import os
import time
from typing import Optional, Sequence, Union

from .base import BaseFusion
from .params import check_known_readers


def fuse_coco_file(in_path: Union[str, os.PathLike], out_path: Union[str, os.PathLike],
                   method: BaseFusion, reader_key: str = 'reader',
                   readers: Optional[Sequence[str]] = None,
                   strict_geometry: bool = False) -> tuple:
    """Load ``in_path``, fuse every image with ``method``, write ``out_path``.

    Returns ``(src, fused, seconds)``: the parsed :class:`MultiReaderCoco`,
    the list of :class:`FusedBoxes` and the fusion time in seconds.

    ``info.fusion`` of the output holds ``method.config()`` and, for any
    method that keeps them after fitting, ``em`` (its ``em`` record: how its
    EM ended, ``converged`` false when it stopped at max_iter) and
    ``dropped_by_agreement`` (clusters dropped, keyed ``"a/R"``).
    A reader weight or ``single_reader`` reader that the file does not have
    is a ``ValueError`` (:func:`~mmmulti.fusion.params.check_known_readers`).
    """
    from mmmulti.io import dump_fused_coco, load_multi_reader_coco
    src = load_multi_reader_coco(in_path, reader_key=reader_key, readers=readers,
                                 strict_geometry=strict_geometry)
    if src.kind == 'fused':  # fusing fused boxes again looks plausible and is wrong
        from mmmulti.io.require import require_readers
        require_readers(src, in_path, 'fuse')
    check_known_readers(method, src.readers, source=os.fspath(in_path))
    t0 = time.perf_counter()
    fused = method.fuse_dataset(src.reads)
    seconds = time.perf_counter() - t0
    info = method.config()
    info.update(reader_key=reader_key, readers=list(readers) if readers else None)
    em = getattr(method, 'em', None)
    if em is not None:
        info['em'] = em
    by_agreement = getattr(method, 'dropped_by_agreement', None)
    if by_agreement:
        info['dropped_by_agreement'] = {f'{a}/{r}': int(n)
                                        for (a, r), n in sorted(by_agreement.items(),
                                                                key=lambda kv: kv[0][::-1])}
    if getattr(method, 'splits_classes', False):
        # rows are class-split (SoftWBF): a data set reading the file merges them
        info['class_split'] = True
    dump_fused_coco(src, fused, out_path, info)
    return src, fused, seconds
