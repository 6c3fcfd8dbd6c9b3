"""Reader profiles: how each simulated reader disagrees, and named presets.

A reader of the paper's simulation only confuses classes (its transition
matrix, :mod:`.readers`) and jitters boxes. Real radiologists also miss
findings, draw findings that are not there, draw boxes of their own
(noisier or systematically larger, shifted). A :class:`ReaderProfile` holds
all five, per reader:

* ``proficiency`` p: the class transition matrix (diagonal ~ N(p, 0.05),
  as in the paper); its ``no_obj`` column is the paper's own miss chance;
* ``miss_rate``: an extra chance to skip a true object altogether;
* ``false_positives``: mean number of spurious boxes per image (Poisson),
  each of a random class, size and place;
* ``min_iou``: box noise -- every box it draws has at least this IoU with
  the box it means to draw (default: p, as in the paper);
* ``scale`` and ``shift``: systematic bias -- the box it means to draw is
  the true box scaled about its centre by ``scale`` and moved by ``shift``
  (dx, dy in units of the box's width and height), clipped to the image.

Presets (``make_med_mnist(preset=...)``, ``--preset``):

* ``paper``: every reader ``ReaderProfile(p)``: the paper's MED-MNIST, the same
  images and reader boxes as before profiles existed;
* ``vindr_like``: 3 readers who miss and add findings often, so that WBF at
  IoU 0.4 backs about 0.6 / 0.2 / 0.2 of the fused boxes by 1 / 2 / 3 readers,
  as on the real VinDr-CXR training set (measured: ``tests/test_simulation_profiles.py``);
* ``mixed``: one expert and two weak readers, one of them biased (larger,
  shifted boxes): where reader reliability should matter.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .readers import jitter_box


@dataclass(frozen=True)
class ReaderProfile:
    """One simulated reader (see the module docstring)."""

    proficiency: float = 0.8
    miss_rate: float = 0.0
    false_positives: float = 0.0
    min_iou: Optional[float] = None
    scale: float = 1.0
    shift: Tuple[float, float] = (0.0, 0.0)

    def __post_init__(self) -> None:
        if not 0.0 < self.proficiency <= 1.0:
            raise ValueError(f'ReaderProfile: proficiency must be in (0, 1], got '
                             f'{self.proficiency}')
        if not 0.0 <= self.miss_rate < 1.0:
            raise ValueError(f'ReaderProfile: miss_rate must be in [0, 1), got {self.miss_rate}')
        if self.false_positives < 0:
            raise ValueError('ReaderProfile: false_positives must be >= 0, got '
                             f'{self.false_positives}')
        if self.min_iou is not None and not 0.0 < self.min_iou <= 1.0:
            raise ValueError(f'ReaderProfile: min_iou must be in (0, 1], got {self.min_iou}')
        if not self.scale > 0:
            raise ValueError(f'ReaderProfile: scale must be > 0, got {self.scale}')
        object.__setattr__(self, 'shift', tuple(float(s) for s in self.shift))
        if len(self.shift) != 2:
            raise ValueError(f'ReaderProfile: shift is (dx, dy), got {self.shift}')

    @property
    def box_iou(self) -> float:
        """The minimum IoU of a drawn box with the box the reader means."""
        return self.proficiency if self.min_iou is None else self.min_iou

    @property
    def biased(self) -> bool:
        return self.scale != 1.0 or self.shift != (0.0, 0.0)

    def to_dict(self) -> dict:
        d = asdict(self)
        d['shift'] = list(self.shift)
        d['min_iou'] = self.box_iou
        return d

    # -- drawing ---------------------------------------------------------------
    def intended_box(self, box: np.ndarray, img_w: float, img_h: float) -> np.ndarray:
        """The true box as this reader sees it (scaled, shifted, in the image)."""
        if not self.biased:
            return np.asarray(box, dtype=np.float64)
        x1, y1, x2, y2 = (float(v) for v in box)
        w, h = x2 - x1, y2 - y1
        cx, cy = (x1 + x2) / 2 + self.shift[0] * w, (y1 + y2) / 2 + self.shift[1] * h
        w, h = w * self.scale, h * self.scale
        out = np.clip([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 0,
                      [img_w, img_h, img_w, img_h])
        if out[2] - out[0] < 1 or out[3] - out[1] < 1:  # pushed off the image
            return np.asarray(box, dtype=np.float64)
        return out

    def draw(self, rng: np.random.Generator, box: np.ndarray, img_w: float,
             img_h: float) -> Optional[np.ndarray]:
        """The box drawn for a true object the reader saw, or None if missed
        (``miss_rate``; the matrix's own misses are drawn before this)."""
        if self.miss_rate > 0 and rng.random() < self.miss_rate:
            return None
        return jitter_box(self.intended_box(box, img_w, img_h), self.box_iou, rng,
                          img_w, img_h)

    def spurious(self, rng: np.random.Generator, num_classes: int, img_w: float,
                 img_h: float, min_size: int, max_size: int) -> List[Tuple[int, np.ndarray]]:
        """This reader's false positives on one image: (class, box) pairs."""
        if self.false_positives <= 0:
            return []
        out = []
        for _ in range(int(rng.poisson(self.false_positives))):
            cls = int(rng.integers(num_classes))
            w, h = (int(v) for v in rng.integers(min_size, max_size + 1, size=2))
            x = float(rng.integers(0, max(1, int(img_w) - w + 1)))
            y = float(rng.integers(0, max(1, int(img_h) - h + 1)))
            out.append((cls, np.array([x, y, min(x + w, img_w), min(y + h, img_h)])))
        return out


def _paper(p: float, r: int) -> List[ReaderProfile]:
    return [ReaderProfile(proficiency=p) for _ in range(r)]


def _vindr_like(p: float, r: int) -> List[ReaderProfile]:
    # calibrated at p = 0.8 on 200 images at 128 px (WBF at IoU 0.4): 0.61 / 0.22 / 0.17
    return [ReaderProfile(proficiency=p, miss_rate=0.05, false_positives=0.5, min_iou=0.7)
            for _ in range(r)]


def _mixed(p: float, r: int) -> List[ReaderProfile]:
    if r != 3:
        raise ValueError(f"preset 'mixed' has 3 readers (one expert, two weak), got {r}")
    expert = ReaderProfile(proficiency=max(p, 0.95), miss_rate=0.02, min_iou=0.9)
    weak = ReaderProfile(proficiency=0.6, miss_rate=0.3, false_positives=0.3, min_iou=0.6)
    biased = ReaderProfile(proficiency=0.6, miss_rate=0.3, false_positives=0.3, min_iou=0.6,
                           scale=1.3, shift=(0.15, 0.1))
    return [expert, weak, biased]


PRESETS = {'paper': _paper, 'vindr_like': _vindr_like, 'mixed': _mixed}


def preset_profiles(name: str, proficiency: float = 0.8,
                    num_readers: int = 3) -> List[ReaderProfile]:
    """The reader profiles of preset ``name`` (``paper``, ``vindr_like``, ``mixed``)."""
    if name not in PRESETS:
        raise ValueError(f'unknown reader preset {name!r}; known: {", ".join(PRESETS)}')
    return PRESETS[name](proficiency, num_readers)


def build_profiles(profiles: Optional[Sequence], preset: str, proficiency: float,
                   num_readers: int) -> List[ReaderProfile]:
    """Explicit ``profiles`` (ReaderProfile or dicts), else the preset's."""
    if profiles is None:
        return preset_profiles(preset, proficiency, num_readers)
    out = [p if isinstance(p, ReaderProfile) else ReaderProfile(**dict(p)) for p in profiles]
    if len(out) != num_readers:
        raise ValueError(f'{len(out)} reader profiles for {num_readers} readers')
    return out


__all__ = ['ReaderProfile', 'PRESETS', 'preset_profiles', 'build_profiles']
