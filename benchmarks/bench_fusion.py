"""Speed of WBF truth inference against calling ensemble_boxes directly.

Generates VinDr-CXR-scale synthetic reads in memory (seeded): most images
have no finding; on the others each reader draws each lesion with some
probability (jittered), plus a few false positives, so some readers draw
nothing on an image they read. Times

* baseline: ``ensemble_boxes.weighted_boxes_fusion`` called directly per
  image (boxes, scores, labels; one list per reader; normalised boxes);
* ours: ``WBF.fuse_dataset`` (boxes, labels, confidence and agreement),

in the same run, prints both and the ratio, and checks that the fused boxes
and labels agree (to float32 pixels; the order among equal scores is free),
and so do scores and agreement on images where no reader drew two boxes of
one class. On the others the library counts boxes and mmmulti distinct
readers, so the agreement may only be lower.

    python benchmarks/bench_fusion.py --images 15000 --readers 3

``--boxes-per-image 10000 100000 1000000`` times instead one image holding
that many boxes (the clustering's growth with boxes per image); the
ensemble_boxes baseline, quadratic there, runs only up to
``--baseline-max-boxes`` (default 25000) and its output must equal ours exactly.
"""
import argparse
import time
import warnings

import numpy as np

from mmmulti.fusion import WBF, ImageReads


def synthetic_reads(num_images: int, num_readers: int, seed: int = 0,
                    abnormal: float = 0.45, lesions: float = 5.0,
                    p_draw: float = 0.75, p_silent: float = 0.15, fp_rate: float = 0.3,
                    num_classes: int = 14, size: int = 2048) -> list:
    """VinDr-like reads: ~45% abnormal images, ~5 lesions each, jittered boxes.

    On an abnormal image each reader says "no finding" with ``p_silent`` (an
    absent vote), else draws each lesion with ``p_draw``, plus false positives.
    """
    rng = np.random.default_rng(seed)
    readers = [f'R{k + 1}' for k in range(num_readers)]
    out = []
    for _ in range(num_images):
        W = float(size - rng.integers(0, 512))
        H = float(size - rng.integers(0, 512))
        boxes, labels, who = [], [], []
        if rng.random() < abnormal:
            k = 1 + rng.poisson(lesions - 1)
            cx, cy = rng.uniform(0.1, 0.9, k) * W, rng.uniform(0.1, 0.9, k) * H
            bw, bh = rng.uniform(0.03, 0.3, k) * W, rng.uniform(0.03, 0.3, k) * H
            lab = rng.integers(0, num_classes, k)
            base = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], 1)
            scale = np.stack([bw, bh, bw, bh], 1)
            for r in readers:
                if rng.random() < p_silent:
                    continue
                drawn = np.nonzero(rng.random(k) < p_draw)[0]
                jit = rng.normal(0, 0.08, (len(drawn), 4)) * scale[drawn]
                boxes.extend(base[drawn] + jit)
                labels.extend(lab[drawn])
                who.extend([r] * len(drawn))
                for _ in range(rng.poisson(fp_rate)):
                    x, y = rng.uniform(0, 0.8) * W, rng.uniform(0, 0.8) * H
                    boxes.append([x, y, x + rng.uniform(0.05, 0.2) * W,
                                  y + rng.uniform(0.05, 0.2) * H])
                    labels.append(rng.integers(0, num_classes))
                    who.append(r)
        b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        b[:, [0, 2]] = np.clip(b[:, [0, 2]], 0, W)
        b[:, [1, 3]] = np.clip(b[:, [1, 3]], 0, H)
        ok = (b[:, 2] > b[:, 0]) & (b[:, 3] > b[:, 1])
        out.append(ImageReads(b[ok], np.asarray(labels, dtype=np.int64)[ok],
                              np.asarray(who, dtype=object)[ok], readers, W, H))
    return out


def direct_ensemble_boxes(reads: list, iou_thr: float, timed: bool = False) -> list:
    """Baseline: ensemble_boxes per image, one list per reader (with ``timed``,
    each item is ``(result, seconds of the call)``)."""
    from ensemble_boxes import weighted_boxes_fusion
    out = []
    for r in reads:
        wh = np.array([r.width, r.height, r.width, r.height])
        bl, sl, ll = [], [], []
        for reader in r.image_readers:
            m = r.readers == reader
            bl.append(r.boxes[m] / wh)
            sl.append(np.ones(int(m.sum())))
            ll.append(r.labels[m])
        t0 = time.perf_counter()
        res = weighted_boxes_fusion(bl, sl, ll, iou_thr=iou_thr, skip_box_thr=0.0,
                                    conf_type='avg')
        out.append((res, time.perf_counter() - t0) if timed else res)
    return out


def one_crowded_image(num_boxes: int, num_readers: int, seed: int = 0,
                      p_draw: float = 0.75, coverage: float = 1.5) -> ImageReads:
    """One image with about ``num_boxes`` boxes: lesions spread uniformly, each
    drawn by every reader with ``p_draw`` (jittered), sized so that the lesions
    cover the image ``coverage`` times over: neighbours overlap often."""
    rng = np.random.default_rng(seed)
    k = max(1, int(num_boxes / (num_readers * p_draw)))
    side = 64.0 * np.sqrt(k)             # pixels: a lesion is a few dozen px wide
    size = np.sqrt(coverage / k) * side * rng.uniform(0.5, 1.5, (k, 2))
    centre = rng.uniform(0, side, (k, 2))
    base = np.c_[centre - size / 2, centre + size / 2]
    labels = rng.integers(0, 14, k)
    readers = [f'R{j + 1}' for j in range(num_readers)]
    boxes, labs, who = [], [], []
    for r in readers:
        drawn = np.nonzero(rng.random(k) < p_draw)[0]
        jit = rng.normal(0, 0.08, (len(drawn), 4)) * np.c_[size[drawn], size[drawn]]
        boxes.append(base[drawn] + jit)
        labs.append(labels[drawn])
        who += [r] * len(drawn)
    b = np.clip(np.concatenate(boxes), 0, side)
    ok = (b[:, 2] > b[:, 0]) & (b[:, 3] > b[:, 1])
    return ImageReads(b[ok], np.concatenate(labs)[ok], np.asarray(who, dtype=object)[ok],
                      readers, side, side)


def bench_boxes_per_image(sizes, num_readers: int, iou_thr: float, seed: int,
                          baseline_max: int) -> None:
    """One row per image size: our WBF, and ensemble_boxes where it finishes."""
    from mmmulti.fusion.weighted_boxes import weighted_boxes_fusion as ours_wbf
    print(f'{"boxes":>9s} {"clusters":>9s} {"mmmulti s":>10s} {"ensemble_boxes s":>17s} '
          f'{"equal":>6s}')
    for n in sizes:
        r = one_crowded_image(n, num_readers, seed)
        wh = np.array([r.width, r.height, r.width, r.height])
        src = np.array([r.image_readers.index(x) for x in r.readers])
        t0 = time.perf_counter()
        mine = ours_wbf(r.boxes / wh, np.ones(len(r)), r.labels, src,
                        num_sources=num_readers, iou_thr=iou_thr)
        t_ours = time.perf_counter() - t0
        t_ref, equal = '-', '-'
        if len(r) <= baseline_max:
            (b, s, lab), t_ref = direct_ensemble_boxes([r], iou_thr, timed=True)[0]
            equal = str(np.array_equal(mine.boxes, b) and np.array_equal(mine.scores, s)
                        and np.array_equal(mine.labels, lab))
            t_ref = f'{t_ref:.2f}'
        print(f'{len(r):9d} {len(mine):9d} {t_ours:10.2f} {t_ref:>17s} {equal:>6s}',
              flush=True)


def _rows(labels, boxes, agreement) -> np.ndarray:
    """(label, x1, y1, x2, y2, agreement) rows in a canonical order."""
    rows = np.c_[np.asarray(labels, float), np.asarray(boxes, float).reshape(-1, 4),
                 np.asarray(agreement, float)]
    return rows[np.lexsort(np.round(rows[:, :5], 2).T[::-1])]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--images', type=int, default=15000)
    p.add_argument('--readers', type=int, default=3)
    p.add_argument('--iou-thr', type=float, default=0.4)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--boxes-per-image', type=int, nargs='+', metavar='N',
                   help='time one image of N boxes per value instead of a data set')
    p.add_argument('--baseline-max-boxes', type=int, default=25000,
                   help='run ensemble_boxes only on images up to this many boxes')
    args = p.parse_args()
    warnings.simplefilter('ignore')
    if args.boxes_per_image:
        bench_boxes_per_image(args.boxes_per_image, args.readers, args.iou_thr, args.seed,
                              args.baseline_max_boxes)
        return

    reads = synthetic_reads(args.images, args.readers, args.seed)
    n_boxes = sum(len(r) for r in reads)
    silent = sum(len(set(r.image_readers) - set(r.readers.tolist())) for r in reads
                 if len(r))
    print(f'{len(reads)} images x {args.readers} readers, {n_boxes} boxes; '
          f'{silent} absent votes on abnormal images')

    t0 = time.perf_counter()
    ref = direct_ensemble_boxes(reads, args.iou_thr)
    t_ref = time.perf_counter() - t0

    method = WBF(iou_thr=args.iou_thr, progress=False)
    t0 = time.perf_counter()
    ours = method.fuse_dataset(reads)
    t_ours = time.perf_counter() - t0

    mismatch = twice = 0
    for r, (b, s, lab), f in zip(reads, ref, ours):
        wh = np.array([r.width, r.height, r.width, r.height])
        R = len(r.image_readers)
        theirs = _rows(lab, b * wh, np.rint(s * R))
        mine = _rows(f.labels, f.boxes, f.agreement)
        same = theirs.shape == mine.shape and np.allclose(
            mine[:, :5], theirs[:, :5], rtol=1e-6, atol=1e-3)
        if same and len(set(zip(r.readers.tolist(), r.labels.tolist()))) < len(r):
            twice += 1   # a reader drew a class twice: distinct readers <= boxes
            same = bool(np.all(mine[:, 5] <= theirs[:, 5])) and np.allclose(
                f.confidences, (f.agreement / R).astype(np.float32))
        elif same:
            same = np.array_equal(mine[:, 5], theirs[:, 5])
        mismatch += not same
    n_out = sum(len(f) for f in ours)
    print(f'ensemble_boxes direct, per image : {t_ref:8.3f} s')
    print(f'mmmulti WBF.fuse_dataset         : {t_ours:8.3f} s   '
          f'({n_out} fused boxes)')
    print(f'ratio ours / direct              : {t_ours / t_ref:8.3f}  (target <= 1.0)')
    print(f'images whose output differs      : {mismatch}   ({twice} images where a '
          f'reader drew a class twice: scores checked as distinct readers / R)')
    if mismatch:
        raise SystemExit(1)


if __name__ == '__main__':
    main()
