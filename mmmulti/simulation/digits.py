"""Digit sources for the MED-MNIST simulator and the rendering of one digit.

Two sources: scikit-learn's bundled 8x8 digits (no download, the default) and
MNIST IDX files a user points at. Either gives a :class:`DigitBank` of uint8
images in 0..255 with their labels. :func:`render_digit` resizes one image
smoothly to the chosen size and crops it to its tight support, so that the
pasted patch *is* the digit's tight box.
"""
from __future__ import annotations

import gzip
import os
import os.path as osp
from dataclasses import dataclass

import numpy as np

#: Pixels below this value (0..255) after resizing are set to 0: they are
#: interpolation fringe, not digit. What is left defines the tight box.
DEFAULT_THRESHOLD = 32


@dataclass
class DigitBank:
    """Digit images (N, H, W) uint8 in 0..255 and their labels (N,) int64."""

    images: np.ndarray
    labels: np.ndarray
    source: str

    def __post_init__(self) -> None:
        if len(self.images) != len(self.labels):
            raise ValueError(f'{self.source}: {len(self.images)} images but '
                             f'{len(self.labels)} labels')
        missing = sorted(set(range(10)) - set(np.unique(self.labels).tolist()))
        if missing:
            raise ValueError(f'{self.source}: no digit of class {missing}')

    def split_pools(self, fractions: tuple[float, ...], seed: int) -> list[np.ndarray]:
        """Disjoint index pools, one per fraction, stratified by class.

        Lets train, val and test draw different digit instances, so a test
        image never shows a digit bitmap seen in training.
        """
        rng = np.random.default_rng([seed, 7])
        pools: list[list[np.ndarray]] = [[] for _ in fractions]
        bounds = np.cumsum((0.0,) + tuple(fractions)) / float(sum(fractions))
        for c in range(10):
            idx = rng.permutation(np.flatnonzero(self.labels == c))
            cuts = np.round(bounds * len(idx)).astype(int)
            for k in range(len(fractions)):
                part = idx[cuts[k]:cuts[k + 1]]
                if len(part) == 0:  # tiny banks: share rather than leave a class empty
                    part = idx[:1]
                pools[k].append(part)
        return [np.concatenate(p) for p in pools]


def load_sklearn_digits() -> DigitBank:
    """scikit-learn's 1,797 bundled 8x8 digits (values 0..16), scaled to 0..255."""
    from sklearn.datasets import load_digits  # lazy: heavy import
    data = load_digits()
    images = np.round(data.images * (255.0 / 16.0)).clip(0, 255).astype(np.uint8)
    return DigitBank(images, data.target.astype(np.int64), 'sklearn.datasets.load_digits')


def _find_idx(mnist_dir: str, stem: str) -> str:
    for name in (f'{stem}-ubyte', f'{stem}-ubyte.gz',
                 stem.replace('-idx', '.idx') + '-ubyte',
                 stem.replace('-idx', '.idx') + '-ubyte.gz'):
        path = osp.join(mnist_dir, name)
        if osp.isfile(path):
            return path
    raise FileNotFoundError(
        f'{mnist_dir}: no {stem}-ubyte[.gz] file (MNIST IDX format expected; '
        f'found: {sorted(os.listdir(mnist_dir)) if osp.isdir(mnist_dir) else "no such directory"})')


def read_idx(path: str, expected_magic: int) -> np.ndarray:
    """Read one IDX file (optionally gzipped) into a uint8 array."""
    opener = gzip.open if path.endswith('.gz') else open
    try:
        with opener(path, 'rb') as f:
            raw = f.read()
    except OSError as e:  # e.g. a truncated or non-gzip .gz file
        raise ValueError(f'{path}: cannot read IDX file ({e})') from e
    if len(raw) < 8:
        raise ValueError(f'{path}: too short for an IDX header ({len(raw)} bytes)')
    magic = int.from_bytes(raw[:4], 'big')
    if magic != expected_magic:
        raise ValueError(f'{path}: IDX magic number {magic}, expected {expected_magic}')
    ndim = raw[3]
    header = 4 + 4 * ndim
    dims = [int.from_bytes(raw[4 + 4 * k:8 + 4 * k], 'big') for k in range(ndim)]
    expected = int(np.prod(dims)) if dims else 0
    if len(raw) - header != expected:
        raise ValueError(f'{path}: header announces {dims} = {expected} bytes of data, '
                         f'file holds {len(raw) - header}')
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def load_mnist_idx(mnist_dir: str) -> DigitBank:
    """MNIST training digits from ``train-images-idx3-ubyte[.gz]`` and labels."""
    img_path = _find_idx(mnist_dir, 'train-images-idx3')
    lbl_path = _find_idx(mnist_dir, 'train-labels-idx1')
    images = read_idx(img_path, 2051)
    labels = read_idx(lbl_path, 2049).astype(np.int64)
    if len(images) != len(labels):
        raise ValueError(f'{img_path}: {len(images)} images but {lbl_path} has '
                         f'{len(labels)} labels')
    if labels.size and labels.max() > 9:
        raise ValueError(f'{lbl_path}: label {int(labels.max())} is not a digit')
    return DigitBank(np.ascontiguousarray(images), labels, mnist_dir)


def render_digit(image: np.ndarray, size: int,
                 threshold: int = DEFAULT_THRESHOLD) -> np.ndarray:
    """Resize a digit to ``size`` x ``size`` (bicubic), zero its fringe, crop tight.

    The returned patch has nonzero pixels on all four borders, so its extent
    is the digit's tight box. Raises if nothing survives the threshold.
    """
    from PIL import Image
    resized = Image.fromarray(image).resize((size, size), Image.BICUBIC)
    arr = np.asarray(resized, dtype=np.uint8).copy()
    arr[arr < threshold] = 0
    ys, xs = np.nonzero(arr)
    if len(ys) == 0:
        raise ValueError(f'digit vanished at size {size} px with threshold {threshold}')
    return arr[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
