"""Truth inference at load time: read a multi-reader COCO file, fuse, cache.

:class:`FusedAnnotations` is the part of
:class:`~mmmulti.datasets.MultiAnnotatorCocoDataset` that turns an annotation
file into per-image boxes, labels, confidences and agreements: it parses and
validates the file (:func:`mmmulti.io.load_multi_reader_coco`), runs the fusion
method over the whole data set once, and keeps the result in a content-keyed
``.npz`` cache (:mod:`mmmulti.datasets.fusion_cache`). The data set only turns
that result into mmdet's data list, so either side can change alone, and the
same loading serves tools that need fused truth without a data set.
"""
from __future__ import annotations

import os.path as osp
import time
from typing import Optional, Sequence, Union

import numpy as np

from mmmulti.fusion.base import BaseFusion
from mmmulti.io import load_multi_reader_coco
from mmmulti.registry import FUSION_METHODS

from .fusion_cache import (cache_key, cache_path, default_cache_dir, file_digest,
                           load_fused, save_fused)


class FusedAnnotations:
    """Loads one annotation file, fused by ``fusion`` (cached) or as it is.

    Args:
        reader_key: annotation key of the reader id.
        readers: keep only these readers' boxes (and the images they read).
        fusion: a ``FUSION_METHODS`` config or a built method; ``None`` keeps
            every reader's box with the file's confidence/agreement (or 1).
        cache: keep the fused result on disk (only when fusing).
        cache_dir: where; default ``$MMMULTI_CACHE_DIR`` or
            ``~/.cache/mmmulti/fusion``.
        strict_geometry: a bad box is an error instead of a counted drop.

    After :meth:`load`: ``cache_file`` and ``cache_hit`` (``None`` when no
    cache was used) say where the result came from.
    """

    def __init__(self, reader_key: str = 'reader', readers: Optional[Sequence[str]] = None,
                 fusion: Optional[Union[dict, BaseFusion]] = None, cache: bool = True,
                 cache_dir: Optional[str] = None, strict_geometry: bool = False) -> None:
        self.reader_key = reader_key
        if isinstance(readers, str):
            readers = [readers]
        self.readers = None if readers is None else [str(r) for r in readers]
        self.fusion_cfg = fusion
        self.method: Optional[BaseFusion] = None
        if fusion is not None:
            self.method = fusion if isinstance(fusion, BaseFusion) else FUSION_METHODS.build(fusion)
        self.cache = cache
        self.cache_dir = cache_dir or default_cache_dir()
        self.strict_geometry = strict_geometry
        self.cache_file: Optional[str] = None
        self.cache_hit: Optional[bool] = None

    def _key_cfg(self) -> dict:
        if isinstance(self.fusion_cfg, BaseFusion):
            return self.fusion_cfg.config()
        return dict(self.fusion_cfg)

    def load(self, local_path: str, ann_file: Optional[str] = None) -> dict:
        """The file's images and per-image arrays (``boxes``, ``labels``,
        ``scores``, ``agreements``; ``readers`` when not fused) plus ``meta``.

        ``local_path`` is read; ``ann_file`` (default the same) names the
        file in the cache path and in messages.
        """
        ann_file = ann_file or local_path
        use_cache = self.method is not None and self.cache
        entry, key = None, None
        if use_cache:
            key = cache_key(file_digest(local_path), self.reader_key, self.readers,
                            self._key_cfg(), self.strict_geometry)
            self.cache_file = cache_path(self.cache_dir, ann_file, key)
            entry = load_fused(self.cache_file, key)
        self.cache_hit = entry is not None if use_cache else None
        if entry is None:
            entry = self._read_and_fuse(local_path, ann_file)
            if use_cache:
                entry['meta']['key'] = key
                save_fused(self.cache_file, entry['meta'], entry['boxes'], entry['labels'],
                           entry['scores'], entry['agreements'])
        return entry

    def _read_and_fuse(self, local_path: str, ann_file: str) -> dict:
        src = load_multi_reader_coco(local_path, reader_key=self.reader_key,
                                     readers=self.readers,
                                     strict_geometry=self.strict_geometry)
        meta = dict(
            source=osp.basename(str(ann_file)), kind=src.kind,
            images=[dict(id=im['id'], file_name=im['file_name'],
                         width=im['width'], height=im['height'],
                         readers=list(im['readers'])) for im in src.images],
            categories=[dict(id=c['id'], name=c.get('name', str(c['id'])))
                        for c in src.categories],
            cat_ids=list(src.cat_ids), boxes_in=src.num_boxes,
            drops=src.drops.as_dict(), drops_text=str(src.drops),
            fusion=None, fusion_seconds=0.0,
            # a file fused by SoftWBF & co: its rows are class-split
            class_split=(self.method is None and src.kind == 'fused' and bool(
                (src.info.get('fusion') or {}).get('class_split', False))))
        if self.method is None:
            readers = [r.readers.astype(str) for r in src.reads]
            if src.kind == 'fused':
                readers = [np.full(len(r), '', dtype=object) for r in readers]
            return dict(meta=meta, boxes=[r.boxes for r in src.reads],
                        labels=[r.labels for r in src.reads],
                        scores=list(src.confidences),
                        agreements=list(src.agreements), readers=readers)
        t0 = time.perf_counter()
        fused = self.method.fuse_dataset(src.reads)
        meta['fusion_seconds'] = time.perf_counter() - t0
        meta['fusion'] = repr(self.method)
        return dict(meta=meta, boxes=[f.boxes for f in fused],
                    labels=[f.labels for f in fused],
                    scores=[f.confidences for f in fused],
                    agreements=[f.agreement for f in fused])
