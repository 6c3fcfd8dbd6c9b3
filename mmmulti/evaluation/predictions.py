"""Detections on disk: COCO results json and mmdet ``tools/test.py --out`` pickles.

Everything downstream (scoring, ensembling) works on one form, the COCO results
list ``[{image_id, category_id, bbox: [x, y, w, h], score}, ...]``, so the two
file kinds are converted here, once, and checked record by record against the
ground truth they will be scored on.
"""
import contextlib
import copy
import io
import os.path as osp
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
from mmengine.fileio import load
from pycocotools.coco import COCO

from .checks import (check_gt_dataset, check_id, check_xywh, is_number,
                     read_json)
from mmmulti.utils.atomic import dump_json_atomic
from mmmulti.utils.safe_pickle import load_prediction_pickle

CocoLike = Union[str, dict, COCO]


def load_coco_gt(gt: CocoLike) -> COCO:
    """A pycocotools ``COCO`` from a path, a COCO dict or a ``COCO``.

    pycocotools' progress prints are swallowed so that tools can keep their
    stdout for results.
    """
    if isinstance(gt, COCO):
        return gt
    if isinstance(gt, str):
        if not osp.isfile(gt):
            raise FileNotFoundError(f'ground truth file not found: {gt}')
        dataset = read_json(gt) if gt.endswith('.json') else load(gt)
        source = gt
    elif isinstance(gt, dict):
        dataset = copy.deepcopy(gt)
        source = 'ground truth dict'
    else:
        raise TypeError(f'ground truth must be a path, a dict or a COCO, got {type(gt)}')
    check_gt_dataset(dataset, source)  # NaN boxes, unknown images and categories
    dataset.setdefault('annotations', [])
    return coco_from_dict(dataset)


def coco_from_dict(dataset: dict, coco_cls: type = COCO) -> COCO:
    """Index a COCO dict in place (no copy, no prints).

    ``coco_cls`` may be mmdet's ``COCO`` wrapper (snake-case aliases), which
    ``CocoMetric`` needs.
    """
    coco = coco_cls()
    coco.dataset = dataset
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    if hasattr(coco, 'img_ann_map'):  # mmdet's wrapper aliases the fresh index
        coco.img_ann_map, coco.cat_img_map = coco.imgToAnns, coco.catToImgs
    return coco


def image_sizes(coco_gt: COCO) -> Dict[int, Tuple[float, float]]:
    """``{image_id: (width, height)}`` of every gt image; both must be > 0."""
    sizes = {}
    for img_id, img in coco_gt.imgs.items():
        w, h = img.get('width'), img.get('height')
        if not w or not h or w <= 0 or h <= 0:
            raise ValueError(f'ground truth: image id {img_id} has no valid '
                             f'width/height ({w}, {h})')
        sizes[img_id] = (float(w), float(h))
    return sizes


def label_to_category_ids(coco_gt: COCO,
                          classes: Optional[Sequence[str]] = None) -> List[int]:
    """Category id of each model label index, as mmdet's CocoDataset/CocoMetric map it.

    mmdet takes ``coco.get_cat_ids(cat_names=classes)``: the gt json's
    categories, in file order, whose name is in ``classes``; label ``i`` is the
    ``i``-th of them. Without ``classes`` every category of the json is a class.
    """
    cats = coco_gt.dataset['categories']
    if classes is None:
        return [c['id'] for c in cats]
    names = {c['name'] for c in cats}
    missing = [c for c in classes if c not in names]
    if missing:
        raise ValueError(f'classes {missing} are not categories of the ground truth '
                         f'({sorted(names)})')
    return [c['id'] for c in cats if c['name'] in set(classes)]


def _to_numpy(x) -> np.ndarray:
    if hasattr(x, 'detach'):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def det_samples_to_results(samples: Sequence[Mapping], cat_ids: Sequence[int],
                           source: str = 'predictions') -> List[dict]:
    """mmdet data samples (as ``DumpDetResults`` pickles them) -> COCO results.

    Each sample is a dict with ``img_id`` and ``pred_instances`` holding
    ``bboxes`` (N, 4) xyxy in original image pixels, ``scores`` (N,) and
    ``labels`` (N,) model label indices.
    """
    results = []
    for i, sample in enumerate(samples):
        if not isinstance(sample, Mapping) or 'pred_instances' not in sample:
            raise ValueError(f'{source}: record {i} is not an mmdet data sample with '
                             '"pred_instances" (expected the file of tools/test.py --out)')
        if 'img_id' not in sample:
            raise ValueError(f'{source}: record {i} has no "img_id"')
        pred = sample['pred_instances']
        bboxes = _to_numpy(pred['bboxes']).reshape(-1, 4).astype(np.float64)
        scores = _to_numpy(pred['scores']).reshape(-1).astype(np.float64)
        labels = _to_numpy(pred['labels']).reshape(-1).astype(np.int64)
        if not len(bboxes) == len(scores) == len(labels):
            raise ValueError(f'{source}: record {i} (image {sample["img_id"]}): '
                             f'{len(bboxes)} boxes, {len(scores)} scores, '
                             f'{len(labels)} labels')
        for box, score, label in zip(bboxes, scores, labels):
            if label < 0 or label >= len(cat_ids):
                raise ValueError(
                    f'{source}: record {i} (image {sample["img_id"]}): label {label} '
                    f'outside the {len(cat_ids)} classes of the ground truth '
                    '(pass the model\'s classes to map labels to categories)')
            x1, y1, x2, y2 = box.tolist()
            results.append(dict(image_id=int(sample['img_id']),
                                category_id=int(cat_ids[label]),
                                bbox=[x1, y1, x2 - x1, y2 - y1],
                                score=float(score)))
    return results


def check_results(results: Sequence[Mapping], coco_gt: COCO,
                  source: str = 'predictions') -> List[dict]:
    """Validate COCO results against the gt; return clean copies.

    Raises on the first bad record, naming ``source`` and the record index:
    missing keys, non-finite numbers, negative width/height, an image or a
    category the ground truth does not have.
    """
    if not isinstance(results, (list, tuple)):
        raise ValueError(f'{source}: expected a list of COCO results, got {type(results).__name__}')
    clean = []
    for i, r in enumerate(results):
        where = f'{source}: record {i}'
        if not isinstance(r, Mapping):
            raise ValueError(f'{where}: not a dict')
        for key in ('image_id', 'category_id', 'bbox', 'score'):
            if key not in r:
                raise ValueError(f'{where}: no "{key}"')
        image_id = check_id(r['image_id'], 'image_id', where)
        check_id(r['category_id'], 'category_id', f'{where} (image {image_id})')
        # a string bbox "1234" would iterate as four digits: only a list of numbers
        bbox = check_xywh(r['bbox'], f'{where} (image {image_id})')
        if not is_number(r['score']):
            raise ValueError(f'{where} (image {image_id}): score must be a finite number, '
                             f'got {r["score"]!r}')
        score = float(r['score'])
        if r['image_id'] not in coco_gt.imgs:
            raise ValueError(f'{where}: image_id {r["image_id"]} is not an image of '
                             'the ground truth')
        if r['category_id'] not in coco_gt.cats:
            raise ValueError(f'{where} (image {r["image_id"]}): category_id '
                             f'{r["category_id"]} is not a category of the ground truth')
        clean.append(dict(image_id=r['image_id'], category_id=int(r['category_id']),
                          bbox=bbox, score=score))
    return clean


def load_predictions(path: str, coco_gt: CocoLike,
                     classes: Optional[Sequence[str]] = None) -> List[dict]:
    """Read and check one prediction file: COCO results ``.json`` or mmdet ``.pkl``.

    ``.pkl``/``.pickle`` files are what ``tools/test.py --out`` writes
    (mmdet ``DumpDetResults``). They are read with a restricted unpickler
    (:mod:`mmmulti.utils.safe_pickle`), so a crafted file cannot run code: it
    raises :class:`~mmmulti.utils.safe_pickle.UnsafePickleError` naming the
    refused class. Labels become category ids with :func:`label_to_category_ids`.
    """
    coco_gt = load_coco_gt(coco_gt)
    if not osp.isfile(path):
        raise FileNotFoundError(f'prediction file not found: {path}')
    is_pickle = path.endswith(('.pkl', '.pickle'))
    if is_pickle:
        data = load_prediction_pickle(path)
    else:
        data = read_json(path) if path.endswith('.json') else load(path)
    if is_pickle:
        results = det_samples_to_results(data, label_to_category_ids(coco_gt, classes),
                                         source=path)
    else:
        results = data
    return check_results(results, coco_gt, source=path)


def dump_predictions(results: Sequence[Mapping], path: str) -> None:
    """Write COCO results json (atomically: an interrupted run leaves no half file)."""
    dump_json_atomic(list(results), path)
