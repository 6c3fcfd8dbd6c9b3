"""Decoded images held in memory, shared by every data-loader worker.

On a GPU the model outpaces PNG decoding long before it outpaces memory:
MED-MNIST at 640 px is 5,000 x 400 KB of grayscale pixels (2 GB). The data
set decodes every image once in the main process, before the loader forks
its workers; the workers then read the same pages (copy-on-write, never
written), so memory is paid once, not once per worker.

Images are kept as decoded (``unchanged``: one channel for a grayscale PNG);
:class:`mmmulti.datasets.transforms.LoadImageCheckSize` converts them to the
pipeline's colour type per sample, which costs far less than decoding.
"""
from __future__ import annotations

from typing import List, Optional, Sequence

import mmcv
import numpy as np
from mmengine import fileio

#: data-info key through which a cached image reaches the loading transform
CACHED_IMAGE_KEY = 'img_cached'


class DecodedImageCache:
    """Every image of a data set, decoded once (``flag='unchanged'``)."""

    def __init__(self, paths: Sequence[str], backend_args: Optional[dict] = None,
                 progress: bool = True) -> None:
        self.images: List[np.ndarray] = []
        it = paths
        if progress and len(paths):
            from tqdm import tqdm
            it = tqdm(paths, desc='decoding images into memory', unit='img')
        for path in it:
            img = mmcv.imfrombytes(fileio.get(path, backend_args=backend_args),
                                   flag='unchanged')
            if img is None:
                raise ValueError(f'{path}: not a decodable image')
            img.setflags(write=False)  # shared with forked workers: never written
            self.images.append(img)

    @property
    def nbytes(self) -> int:
        return sum(int(i.nbytes) for i in self.images)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, idx: int) -> np.ndarray:
        return self.images[idx]


def to_color_type(img: np.ndarray, color_type: str) -> np.ndarray:
    """A cached (``unchanged``) image as mmcv's ``imfrombytes(flag=color_type)``
    would have decoded it: ``color`` is 3-channel BGR, ``grayscale`` 1-channel."""
    import cv2
    if color_type == 'color':
        if img.ndim == 2:
            return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
        if img.shape[2] == 4:
            return cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
        return img.copy()
    if color_type == 'grayscale':
        if img.ndim == 2:
            return img.copy()
        return cv2.cvtColor(img, cv2.COLOR_BGR2GRAY if img.shape[2] == 3
                            else cv2.COLOR_BGRA2GRAY)
    if color_type == 'unchanged':
        return img.copy()
    raise ValueError(f'image cache: color_type {color_type!r} is not supported '
                     "(use 'color', 'grayscale' or 'unchanged', or cache_images=False)")
