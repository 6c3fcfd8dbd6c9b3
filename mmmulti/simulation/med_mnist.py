"""MED-MNIST: a simulated multi-reader detection set with known truth.

Digits are pasted at random sizes and non-overlapping positions on a black
canvas; the true box of a digit is the tight box of its nonzero pixels. R
simulated readers of proficiency p (see :mod:`mmmulti.simulation.readers`)
then each relabel, miss, or redraw every true box; reader profiles
(:mod:`mmmulti.simulation.profiles`, ``preset=``) add extra misses, false
positives, box noise and bias per reader. Because the truth is
known, truth inference and EARL can be measured against it.

Layout written under ``out_dir``::

    images/{train,val,test}/000000.png ...      grayscale PNG, img_size x img_size
    annotations/train_multi_reader.json          readers' boxes (multi-reader COCO)
    annotations/val_multi_reader.json
    annotations/train.json, val.json, test.json  the true boxes (clean COCO)
    annotations/readers.json                     transition matrices + statistics

``file_name`` in every COCO file is relative to ``images/<split>/``.
Category ids are the digits themselves (0..9, names '0'..'9'). Reader boxes
carry ``reader`` (``'R1'``..) and, except false positives, ``sim_object`` (id of the true box in the
split's clean file), the latter only for analysis of the simulation.
"""
from __future__ import annotations

import json
import os
import os.path as osp
from typing import Optional, Sequence, Union

import numpy as np

from ..utils.atomic import dump_json_atomic
from .digits import DEFAULT_THRESHOLD, DigitBank, load_mnist_idx, load_sklearn_digits, render_digit
from .layout import default_digit_sizes, parse_count_range
from .profiles import ReaderProfile, build_profiles
from .provenance import generation_record, records_settings
from .readers import ALPHA_STD, sample_transition_matrix

CLASSES = tuple(str(d) for d in range(10))
SPLITS = ('train', 'val', 'test')
#: Share of the digit bank's instances each split draws from (disjoint pools).
POOL_FRACTIONS = (0.7, 0.15, 0.15)
_SPLIT_CODE = {'train': 0, 'val': 1, 'test': 2}


def compose_image(rng: np.random.Generator, bank: DigitBank,
                  pool_by_class: list[np.ndarray], img_size: int, num_digits: int,
                  min_size: int, max_size: int, threshold: int = DEFAULT_THRESHOLD,
                  max_place_tries: int = 50, gap: int = 2):
    """Paste ``num_digits`` digits without overlap on a black canvas.

    Digits keep at least ``gap`` pixels between their tight boxes.

    Returns ``(canvas, boxes, labels, skipped)``: uint8 (S, S), int xyxy boxes
    (pixel edges, so ``x2 - x1`` is the width in pixels), int labels, and the
    number of digits that found no free place (reported, not silent).
    """
    canvas = np.zeros((img_size, img_size), dtype=np.uint8)
    boxes, labels = [], []
    skipped = 0
    for _ in range(num_digits):
        cls = int(rng.integers(10))
        src = int(rng.choice(pool_by_class[cls]))
        size = int(rng.integers(min_size, max_size + 1))
        patch = render_digit(bank.images[src], size, threshold)
        ph, pw = patch.shape
        for _try in range(max_place_tries):
            x = int(rng.integers(0, img_size - pw + 1))
            y = int(rng.integers(0, img_size - ph + 1))
            cand = (x, y, x + pw, y + ph)
            if all(cand[0] >= b[2] + gap or cand[2] + gap <= b[0]
                   or cand[1] >= b[3] + gap or cand[3] + gap <= b[1] for b in boxes):
                break
        else:
            skipped += 1
            continue
        canvas[y:y + ph, x:x + pw] = patch
        boxes.append(cand)
        labels.append(cls)
    return (canvas, np.array(boxes, dtype=np.int64).reshape(-1, 4),
            np.array(labels, dtype=np.int64), skipped)


def simulate_reads(rng: np.random.Generator, boxes: np.ndarray, labels: np.ndarray,
                   matrices: np.ndarray, profiles: Sequence[ReaderProfile], img_w: float,
                   img_h: float, min_size: int = 8, max_size: int = 32):
    """Every reader's reads of one image's true boxes.

    Returns a list of ``(reader_index, object_index, label, box_xyxy)``; a
    reader's ``no_obj`` draw or extra miss yields no entry (an absent vote);
    a false positive has object index ``None``.
    """
    no_obj = matrices.shape[-1] - 1  # last column
    reads = []
    for r, (mat, prof) in enumerate(zip(matrices, profiles)):
        for i, (box, cls) in enumerate(zip(boxes, labels)):
            drawn = int(rng.choice(mat.shape[1], p=mat[cls]))
            if drawn == no_obj:
                continue
            drawn_box = prof.draw(rng, box, img_w, img_h)
            if drawn_box is not None:
                reads.append((r, i, drawn, drawn_box))
        for cls, box in prof.spurious(rng, no_obj, img_w, img_h, min_size, max_size):
            reads.append((r, None, cls, box))
    return reads


def _bbox(xyxy) -> list[float]:
    x1, y1, x2, y2 = (float(v) for v in xyxy)
    return [round(x1, 2), round(y1, 2), round(x2 - x1, 2), round(y2 - y1, 2)]


def _write_json(obj: dict, path: str) -> None:
    dump_json_atomic(obj, path)


@records_settings
def make_med_mnist(out_dir: str, num_train: int = 5000, num_val: int = 1000,
                   num_test: int = 1000, img_size: int = 640, num_readers: int = 3,
                   proficiency: float = 0.8,
                   digits_per_image: Union[str, int, Sequence[int]] = (1, 4),
                   min_digit_size: Optional[int] = None,
                   max_digit_size: Optional[int] = None, seed: int = 0,
                   mnist_dir: Optional[str] = None, alpha_std: float = ALPHA_STD,
                   progress: bool = True, preset: str = 'paper',
                   reader_profiles: Optional[Sequence] = None) -> dict[str, str]:
    """Generate a MED-MNIST set; returns the paths written (see module docstring).

    ``preset`` names the readers' profiles (:mod:`.profiles`: ``paper``, the
    default and the paper's data; ``vindr_like``; ``mixed``); explicit
    ``reader_profiles`` (one :class:`ReaderProfile` or dict per reader) replace it.

    Keys: ``train_multi_reader``, ``val_multi_reader``, ``train``, ``val``,
    ``test`` (annotation files), ``readers`` (matrices), ``train_images``,
    ``val_images``, ``test_images`` (image folders), ``root``.
    Deterministic: the same arguments give byte-identical files.
    """
    if not 0.0 < proficiency <= 1.0:
        raise ValueError(f'proficiency must be in (0, 1], got {proficiency}')
    if num_readers < 1:
        raise ValueError(f'need at least one reader, got {num_readers}')
    lo, hi = parse_count_range(digits_per_image)
    dmin, dmax = default_digit_sizes(img_size)
    min_size = int(min_digit_size or dmin)
    max_size = int(max_digit_size or max(dmax, min_size))
    if not 2 <= min_size <= max_size <= img_size:
        raise ValueError(f'digit sizes must satisfy 2 <= min ({min_size}) <= max '
                         f'({max_size}) <= img_size ({img_size})')
    counts = dict(train=int(num_train), val=int(num_val), test=int(num_test))
    if any(n < 0 for n in counts.values()):
        raise ValueError(f'image counts must be >= 0, got {counts}')

    generation = generation_record(
        num_train=num_train, num_val=num_val, num_test=num_test, img_size=img_size,
        num_readers=num_readers, proficiency=proficiency, digits_per_image=digits_per_image,
        min_digit_size=min_digit_size, max_digit_size=max_digit_size, seed=seed,
        alpha_std=alpha_std, preset=preset, reader_profiles=reader_profiles)
    bank = load_mnist_idx(mnist_dir) if mnist_dir else load_sklearn_digits()
    pools = bank.split_pools(POOL_FRACTIONS, seed)
    reader_ids = [f'R{k + 1}' for k in range(num_readers)]
    profiles = build_profiles(reader_profiles, preset, proficiency, num_readers)
    rrng = np.random.default_rng([seed, 1000])
    matrices = np.stack([sample_transition_matrix(len(CLASSES), prof.proficiency, rrng,
                                                  alpha_std) for prof in profiles])

    ann_dir = osp.join(out_dir, 'annotations')
    os.makedirs(ann_dir, exist_ok=True)
    categories = [dict(id=k, name=name) for k, name in enumerate(CLASSES)]
    paths: dict[str, str] = dict(root=out_dir)
    stats = {r: dict(objects=0, drawn=0, missed=0, relabelled=0, false_positives=0)
             for r in reader_ids}
    skipped_total = 0

    for split in SPLITS:
        img_dir = osp.join(out_dir, 'images', split)
        os.makedirs(img_dir, exist_ok=True)
        paths[f'{split}_images'] = img_dir
        pool = pools[_SPLIT_CODE[split]]
        pool_by_class = [pool[bank.labels[pool] == c] for c in range(10)]
        images, truth, reads_out = [], [], []
        it = range(counts[split])
        if progress and counts[split]:
            from tqdm import tqdm
            it = tqdm(it, desc=f'MED-MNIST {split}', unit='img')
        for idx in it:
            rng = np.random.default_rng([seed, _SPLIT_CODE[split], idx])
            n = int(rng.integers(lo, hi + 1))
            canvas, boxes, labels, skipped = compose_image(
                rng, bank, pool_by_class, img_size, n, min_size, max_size)
            skipped_total += skipped
            file_name = f'{idx:06d}.png'
            _save_png(canvas, osp.join(img_dir, file_name))
            image_id = idx + 1
            image = dict(id=image_id, file_name=file_name, width=img_size, height=img_size)
            first_id = len(truth) + 1
            for k, (box, cls) in enumerate(zip(boxes, labels)):
                bb = _bbox(box)
                truth.append(dict(id=first_id + k, image_id=image_id, category_id=int(cls),
                                  bbox=bb, area=bb[2] * bb[3], iscrowd=0))
            if split != 'test':
                images.append(dict(image, readers=list(reader_ids)))
                for r, obj, cls, box in simulate_reads(rng, boxes, labels, matrices,
                                                       profiles, img_size, img_size,
                                                       min_size, max_size):
                    bb = _bbox(box)
                    ann = dict(id=len(reads_out) + 1, image_id=image_id, category_id=int(cls),
                               bbox=bb, area=round(bb[2] * bb[3], 4), iscrowd=0,
                               reader=reader_ids[r])
                    st = stats[reader_ids[r]]
                    if obj is None:  # a false positive: no true object behind it
                        st['false_positives'] += 1
                    else:
                        ann['sim_object'] = first_id + obj
                        st['drawn'] += 1
                        st['relabelled'] += int(cls != labels[obj])
                    reads_out.append(ann)
                for r in reader_ids:
                    stats[r]['objects'] += len(boxes)
            else:
                images.append(image)
        clean_images = [{k: v for k, v in im.items() if k != 'readers'} for im in images]
        info = dict(description=f'MED-MNIST {split} (simulated)', seed=seed,
                    proficiency=proficiency, num_readers=num_readers, digit_source=bank.source)
        if preset != 'paper' or reader_profiles is not None:
            info['reader_preset'] = preset if reader_profiles is None else 'custom'
        paths[split] = osp.join(ann_dir, f'{split}.json')
        _write_json(dict(info=info, images=clean_images, annotations=truth,
                         categories=categories), paths[split])
        if split != 'test':
            key = f'{split}_multi_reader'
            paths[key] = osp.join(ann_dir, f'{key}.json')
            _write_json(dict(info=info, images=images, annotations=reads_out,
                             categories=categories), paths[key])

    for r in reader_ids:
        stats[r]['missed'] = stats[r]['objects'] - stats[r]['drawn']
    paths['readers'] = osp.join(ann_dir, 'readers.json')
    _write_json(dict(
        proficiency=proficiency, alpha_std=alpha_std, seed=seed,
        classes=list(CLASSES), columns=list(CLASSES) + ['no_obj'],
        off_diagonal='uniform over the other classes and no_obj: (1 - a_ii) / 10 each',
        preset=preset if reader_profiles is None else 'custom',
        readers=[dict(id=r, profile=profiles[k].to_dict(),
                      transition_matrix=matrices[k].round(6).tolist())
                 for k, r in enumerate(reader_ids)],
        statistics=dict(readers=stats, digits_without_place=skipped_total,
                        note='train + val reads; test has truth only'),
        # every data setting, so a run can tell whether this folder is the data it asks for
        generation=dict(generation, digit_source=bank.source)), paths['readers'])
    return paths


def _save_png(arr: np.ndarray, path: str) -> None:
    from PIL import Image
    Image.fromarray(arr, mode='L').save(path, format='PNG', compress_level=3)  # 2x faster than 6


def format_summary(paths: dict[str, str]) -> str:
    """Short text report of a generated set (read back from ``readers.json``)."""
    with open(paths['readers']) as f:
        meta = json.load(f)
    lines = [f"MED-MNIST written to {paths['root']} (p={meta['proficiency']}, "
             f"{len(meta['readers'])} readers, seed {meta['seed']})"]
    for split in SPLITS:
        with open(paths[split]) as f:
            d = json.load(f)
        lines.append(f'  {split:5s}: {len(d["images"])} images, '
                     f'{len(d["annotations"])} true boxes')
    for r, st in meta['statistics']['readers'].items():
        n = max(st['objects'], 1)
        lines.append(f"  reader {r}: {st['drawn']} boxes, missed {st['missed'] / n:.1%}, "
                     f"relabelled {st['relabelled'] / max(st['drawn'], 1):.1%} of drawn"
                     + (f", {st['false_positives']} false positives"
                        if st.get('false_positives') else ''))
    skipped = meta['statistics']['digits_without_place']
    lines.append(f'  digits dropped for lack of free space: {skipped}')
    return '\n'.join(lines)
