"""How many digits an image holds and how large they are: the two settings
both the generator and its provenance record resolve the same way."""
from __future__ import annotations

from typing import Sequence, Union


def parse_count_range(text: Union[str, int, Sequence[int]]) -> tuple[int, int]:
    """``'1-4'`` -> (1, 4); ``'3'`` or 3 -> (3, 3); validated."""
    if isinstance(text, (tuple, list)):
        lo, hi = (int(v) for v in text)
    elif isinstance(text, int):
        lo = hi = text
    else:
        parts = str(text).split('-')
        try:
            lo, hi = (int(parts[0]), int(parts[-1])) if len(parts) <= 2 else (None, None)
        except ValueError:
            lo = hi = None
        if lo is None:
            raise ValueError(f'digits per image: expected N or MIN-MAX, got {text!r}')
    if lo < 1 or hi < lo:
        raise ValueError(f'digits per image: need 1 <= MIN <= MAX, got {lo}-{hi}')
    return lo, hi


def default_digit_sizes(img_size: int) -> tuple[int, int]:
    """Side of a pasted digit before cropping: img_size/12 .. img_size/4."""
    return max(6, img_size // 12), max(8, img_size // 4)
