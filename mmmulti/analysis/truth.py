"""The simulator's clean boxes, aligned image by image with a readers' file."""
from __future__ import annotations

from typing import List

from mmmulti.structures import ImageReads


def load_aligned_truth(path: str, src) -> List[ImageReads]:
    """The clean boxes of ``path`` in the image order of ``src`` (a loaded
    :class:`~mmmulti.io.MultiReaderCoco`); refuses a file that lacks one of
    its images or lists other categories, naming both files."""
    from mmmulti.io import load_multi_reader_coco
    truth = load_multi_reader_coco(path)
    by_id = {img['id']: r for img, r in zip(truth.images, truth.reads)}
    missing = [img['id'] for img in src.images if img['id'] not in by_id]
    if missing:
        raise ValueError(f'{path} lacks {len(missing)} image(s) of {src.source} '
                         f'(first: id {missing[0]})')
    if truth.cat_ids != src.cat_ids:
        raise ValueError(f'{path} and {src.source} list different categories')
    return [by_id[img['id']] for img in src.images]


__all__ = ['load_aligned_truth']
