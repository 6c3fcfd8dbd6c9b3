"""Writing fused boxes as a COCO file that keeps the readers' images and categories."""
from __future__ import annotations

import os
from typing import Sequence, Union

from mmmulti.structures import FusedBoxes
from mmmulti.utils.atomic import dump_json_atomic

from .parsed import MultiReaderCoco


def fused_to_coco(src: MultiReaderCoco, fused: Sequence[FusedBoxes],
                  method_info: dict) -> dict:
    """The fused COCO dict (see :func:`dump_fused_coco`)."""
    if len(fused) != len(src.images):
        raise ValueError(f'{len(fused)} fused results for {len(src.images)} images')
    anns = []
    next_id = 1
    for img, fb in zip(src.images, fused):
        for box, label, conf, agree in zip(fb.boxes.tolist(), fb.labels.tolist(),
                                           fb.confidences.tolist(), fb.agreement.tolist()):
            x1, y1, x2, y2 = box
            w, h = x2 - x1, y2 - y1
            anns.append(dict(id=next_id, image_id=img['id'],
                             category_id=src.cat_ids[label],
                             bbox=[x1, y1, w, h], area=w * h, iscrowd=0,
                             confidence=conf, agreement=int(agree)))
            next_id += 1
    info = dict(src.info)
    info['fusion'] = dict(method_info, source=src.source,
                          input_boxes=src.num_boxes, input_drops=src.drops.as_dict())
    return dict(info=info, images=[dict(im) for im in src.images],
                categories=list(src.categories), annotations=anns)


def dump_fused_coco(src: MultiReaderCoco, fused: Sequence[FusedBoxes],
                    out_path: Union[str, os.PathLike], method_info: dict) -> dict:
    """Write the fused truth as COCO json.

    Annotations carry ``bbox`` (xywh), ``category_id``, ``area``, ``iscrowd`` 0,
    ``confidence`` (c, the readers' agreement as a fraction) and ``agreement``
    (the readers' count) -- no ``score``, so it cannot pass for a COCO results
    file; images keep
    their ``readers``; ``info.fusion`` holds ``method_info`` plus the source
    file and the input drop counts. Returns the written dict.
    """
    out = fused_to_coco(src, fused, method_info)
    out_path = os.fspath(out_path)
    d = os.path.dirname(out_path)
    if d:
        os.makedirs(d, exist_ok=True)
    dump_json_atomic(out, out_path)
    return out


__all__ = ['fused_to_coco', 'dump_fused_coco']
