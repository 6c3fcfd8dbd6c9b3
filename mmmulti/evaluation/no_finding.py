"""The VinBigData "No finding" convention for scoring detections.

In the VinBigData challenge (and the paper's mAP@0.4) an image without any
finding is not free: it counts as one gt box of the class "No finding"
(``class_id``, 14 in VinBigData) covering ``[0, 0, 1, 1]``, and a submission
scores it by predicting that class with that box. This module adds both sides:

* **ground truth**: every evaluated image with no gt box of the evaluated
  classes (and no existing ``class_id`` box) gets a gt box of ``class_id``,
  xyxy ``0, 0, 1, 1`` (COCO xywh ``[0, 0, 1, 1]``, area 1);
* **predictions**: every evaluated image gets one prediction of ``class_id``
  with box ``0, 0, 1, 1``. Its score depends on ``score_mode``:

  - ``'complement'`` (default): ``1 - s_max``, where ``s_max`` is the highest
    score among the image's detections of the evaluated classes with score
    ``>= score_thr``; ``1`` when there is none (so an image where the model
    predicts nothing above the threshold gets score 1).
    Why: AP ranks predictions. The challenge's notebooks used the probability
    of a separate image-level classifier; a detector alone has no such head,
    and its top detection score is its own evidence that something is there,
    so ``1 - s_max`` is a monotone "nothing is there" confidence that gives
    the class a real ranking and needs no threshold to tune.
  - ``'constant'``: score 1 only on images with no detection ``>= score_thr``,
    no "No finding" prediction elsewhere. All such predictions tie, so the
    class's AP is the precision at the single operating point that
    ``score_thr`` sets.

``class_id`` is a COCO category id. It must not be one of the evaluated
classes; when the gt json does not list it, a category ``'No finding'`` is
added. The class joins the mean AP like any other class (15 classes for
VinBigData), and is reported in the per-class table.
"""
import copy
from collections import defaultdict
from dataclasses import dataclass
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Union

from pycocotools.coco import COCO

from .predictions import coco_from_dict

NO_FINDING_BOX = [0.0, 0.0, 1.0, 1.0]  # COCO xywh of xyxy (0, 0, 1, 1)
SCORE_MODES = ('complement', 'constant')


@dataclass
class NoFinding:
    """Settings of the convention (``no_finding=dict(...)`` in configs)."""
    enable: bool = False
    class_id: int = 14
    score_mode: str = 'complement'
    score_thr: float = 0.0
    name: str = 'No finding'

    def __post_init__(self) -> None:
        if self.score_mode not in SCORE_MODES:
            raise ValueError(f'no_finding.score_mode must be one of {SCORE_MODES}, '
                             f'got {self.score_mode!r}')
        self.class_id = int(self.class_id)


def parse_no_finding(cfg: Union[None, bool, Mapping, NoFinding]) -> Optional[NoFinding]:
    """``None``/``False``/``dict(enable=False)`` -> None; otherwise a NoFinding."""
    if cfg is None or cfg is False:
        return None
    if cfg is True:
        return NoFinding(enable=True)
    if isinstance(cfg, NoFinding):
        return cfg if cfg.enable else None
    if not isinstance(cfg, Mapping):
        raise TypeError(f'no_finding must be a dict, got {type(cfg).__name__}')
    unknown = set(cfg) - set(NoFinding.__dataclass_fields__)
    if unknown:
        raise ValueError(f'no_finding: unknown keys {sorted(unknown)}')
    nf = NoFinding(**cfg)
    return nf if nf.enable else None


def add_no_finding_gt(coco_gt: COCO, nf: NoFinding, cat_ids: Sequence[int],
                      img_ids: Iterable[int]) -> COCO:
    """A new COCO (input untouched) where every image without a gt box of
    ``cat_ids`` gets a gt box of ``nf.class_id`` at ``[0, 0, 1, 1]``."""
    if nf.class_id in set(cat_ids):
        name = coco_gt.cats.get(nf.class_id, {}).get('name', nf.class_id)
        raise ValueError(f'no_finding.class_id {nf.class_id} is the category of the '
                         f'evaluated class {name!r}; choose an id no evaluated class uses')
    dataset = copy.deepcopy(coco_gt.dataset)
    if nf.class_id not in coco_gt.cats:
        dataset['categories'].append(dict(id=nf.class_id, name=nf.name))
    keep = set(cat_ids) | {nf.class_id}
    has_box = {a['image_id'] for a in dataset.get('annotations', [])
               if a['category_id'] in keep}
    anns = dataset.setdefault('annotations', [])
    next_id = max((a['id'] for a in anns), default=0) + 1
    for img_id in img_ids:
        if img_id in has_box:
            continue
        anns.append(dict(id=next_id, image_id=img_id, category_id=nf.class_id,
                         bbox=list(NO_FINDING_BOX), area=1.0, iscrowd=0))
        next_id += 1
    return coco_from_dict(dataset)


def no_finding_predictions(results: Sequence[Mapping], nf: NoFinding,
                           cat_ids: Sequence[int], img_ids: Iterable[int]) -> List[dict]:
    """The "No finding" predictions to append to ``results`` (see module doc)."""
    if any(r['category_id'] == nf.class_id for r in results):
        raise ValueError(
            f'the predictions already contain category {nf.class_id} ("No finding"); '
            'either disable no_finding or remove those predictions')
    evaluated = set(cat_ids)
    max_score: Dict[int, float] = defaultdict(lambda: -1.0)
    for r in results:
        if r['category_id'] in evaluated and r['score'] >= nf.score_thr:
            max_score[r['image_id']] = max(max_score[r['image_id']], float(r['score']))
    extra = []
    for img_id in img_ids:
        top = max_score.get(img_id)
        if top is None:
            score = 1.0
        elif nf.score_mode == 'complement':
            score = 1.0 - top
        else:  # 'constant': the image has a detection, so no "No finding" claim
            continue
        extra.append(dict(image_id=img_id, category_id=nf.class_id,
                          bbox=list(NO_FINDING_BOX), score=score))
    return extra
