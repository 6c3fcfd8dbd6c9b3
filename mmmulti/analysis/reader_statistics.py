"""What the readers' boxes say, reader by reader: the descriptive statistics of
the reader diagnosis (:mod:`.diagnosis`), its reader-rate model and bootstrap,
and the same statistics of a simulated preset to compare the data with."""
from __future__ import annotations

import tempfile
import time
import warnings
from collections import OrderedDict
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

from mmmulti.converters.vindr_cxr import reader_sort_key
from mmmulti.structures import ImageReads
from .reader_agreement import reader_agreement
from .reader_alpha import alpha_from_value_counts, vote_value_counts


# -- per-reader descriptive statistics ------------------------------------------------
def _sqrt_area(boxes: np.ndarray) -> np.ndarray:
    return np.sqrt(np.clip((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]), 0, None))


def consensus_offsets(reads: Sequence[ImageReads], members: Sequence,
                      readers: Sequence[str]) -> Dict[str, dict]:
    """Each reader's box against the consensus of the *other* readers of the
    same WBF cluster (leave-one-out, so a reader's own box does not pull the
    reference towards it): the mean of the other readers' boxes (each
    reader's first box in the cluster). Per matched box: dx, dy = centre
    offset in units of the reference's width and height, log_scale = mean of
    log(width ratio) and log(height ratio). Returns per reader the means over
    its matched boxes and their number."""
    acc = {r: [] for r in readers}
    for x, fused in zip(reads, members):
        if not len(fused):
            continue
        for m in fused.members:
            if len(m) < 2:
                continue
            first: Dict[str, int] = {}
            for i, r in zip(m.tolist(), x.readers[m].tolist()):
                first.setdefault(r, i)
            if len(first) < 2:
                continue
            names = list(first)
            b = x.boxes[[first[r] for r in names]]
            total = b.sum(0)
            for k, r in enumerate(names):
                ref = (total - b[k]) / (len(names) - 1)
                acc[r].append(np.concatenate([b[k], ref]))
    out = OrderedDict()
    for r in readers:
        if not acc[r]:
            out[r] = dict(dx=float('nan'), dy=float('nan'), log_scale=float('nan'), matched=0)
            continue
        a = np.asarray(acc[r])
        mine, ref = a[:, :4], a[:, 4:]
        w = np.maximum(mine[:, 2] - mine[:, 0], 1e-6)
        h = np.maximum(mine[:, 3] - mine[:, 1], 1e-6)
        rw = np.maximum(ref[:, 2] - ref[:, 0], 1e-6)
        rh = np.maximum(ref[:, 3] - ref[:, 1], 1e-6)
        dx = ((mine[:, 0] + mine[:, 2]) - (ref[:, 0] + ref[:, 2])) / 2 / rw
        dy = ((mine[:, 1] + mine[:, 3]) - (ref[:, 1] + ref[:, 3])) / 2 / rh
        ls = (np.log(w / rw) + np.log(h / rh)) / 2
        out[r] = dict(dx=float(dx.mean()), dy=float(dy.mean()), log_scale=float(ls.mean()),
                      matched=int(len(a)))
    return out


def class_mix(reads: Sequence[ImageReads], readers: Sequence[str],
              class_names: Sequence[str], top: int = 3) -> Dict[str, dict]:
    """Per reader: entropy (bits) of its class distribution and its ``top``
    classes with their shares."""
    k = max(len(class_names), 1)
    counts = {r: np.zeros(k) for r in readers}
    for x in reads:
        for r in set(x.readers.tolist()):
            if r in counts:
                counts[r] += np.bincount(np.clip(x.labels[x.readers == r], 0, k - 1),
                                         minlength=k)
    out = OrderedDict()
    for r in readers:
        c = counts[r]
        total = c.sum()
        if not total:
            out[r] = dict(entropy_bits=float('nan'), top=[])
            continue
        p = c / total
        nz = p[p > 0]
        order = np.argsort(-c, kind='stable')[:top]
        out[r] = dict(entropy_bits=float(-(nz * np.log2(nz)).sum()),
                      top=[[str(class_names[j]) if j < len(class_names) else str(j),
                            float(p[j])] for j in order if c[j] > 0])
    return out


def agreement_histogram(reads: Sequence[ImageReads], fused: Sequence) -> Dict[str, List[int]]:
    """``{n: [boxes backed by 1 of n, 2 of n, ..., n of n]}`` over the fused
    boxes, n = readers of the box's image (keys are strings, sorted by n)."""
    hist: Dict[int, np.ndarray] = {}
    for x, f in zip(reads, fused):
        n = x.num_readers
        if not len(f) or n < 1:
            continue
        h = hist.setdefault(n, np.zeros(n, np.int64))
        h += np.bincount(np.clip(np.asarray(f.agreement), 1, n) - 1, minlength=n)
    return OrderedDict((str(n), hist[n].tolist()) for n in sorted(hist))


# -- the reader-rate model and its bootstrap ------------------------------------------
def bootstrap_reader_rates(cw, reads: Sequence[ImageReads], members: Sequence,
                           init: np.ndarray, num_resamples: int = 30, seed: int = 0,
                           log: Optional[Callable[[str], None]] = None) -> dict:
    """95 % percentile intervals of each reader's sensitivity and made-up
    boxes per image, and of Krippendorff's alpha, by resampling images with
    replacement.

    ``cw`` is a fitted :class:`~mmmulti.fusion.CalibratedWBF`, ``members``
    its WBF clusters of ``reads`` and ``init`` its posteriors (in cluster
    order). The clustering is reused: each resample refits only the reader-rate
    EM (:class:`~mmmulti.fusion.reader_rates.ReaderRateModel`, the same
    settings, started from the full fit's posteriors) on the clusters of the
    drawn images. The coincidence rates f (measured by laying clusters on
    other images, not fitted) stay at the full data's values: an image drawn
    twice would find itself as "another image". A reader that no drawn image
    has is left out of that resample.
    """
    from mmmulti.fusion.calibrated import cluster_votes
    from mmmulti.fusion.reader_rates import ReaderRateModel
    log = log or (lambda _msg: None)
    model = cw.model
    readers = list(model.readers)
    drew, read = cluster_votes(reads, members, readers)
    cells = cw._cells(members)   # the fitted model's (class x size) cells
    num_cells = len(model.real_rate)
    lens = np.array([len(m) for m in members], np.int64)
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
    pos = {r: i for i, r in enumerate(readers)}
    img_read = np.zeros((len(reads), len(readers)))
    for i, x in enumerate(reads):
        img_read[i, [pos[r] for r in x.image_readers]] = 1.0
    em = ReaderRateModel(max_iter=cw.max_iter, tol=cw.tol, shrink=cw.shrink,
                         truncation=cw.truncation)
    rng = np.random.default_rng(seed)
    sens, made_up, alpha = [], [], []
    not_converged = 0
    t0 = time.perf_counter()
    for b in range(num_resamples):
        idx = rng.integers(len(reads), size=len(reads))
        counts = lens[idx]
        total = int(counts.sum())
        offset = np.repeat(starts[idx] - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
        rows = offset + np.arange(total)
        images_read = img_read[idx].sum(0)
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            _, fit = em.fit(drew[rows], read[rows], cells[rows], num_cells, readers,
                            model.coincidence, images_read, len(idx), init=init[rows],
                            name='bootstrap reader-rate EM')
        not_converged += int(not fit.em.converged)
        seen = images_read > 0
        sens.append(np.where(seen, fit.sensitivity, np.nan))
        made_up.append(np.where(seen, fit.made_up, np.nan))
        alpha.append(alpha_from_value_counts(vote_value_counts(drew[rows], read[rows])))
        if (b + 1) % 10 == 0 or b + 1 == num_resamples:
            log(f'bootstrap {b + 1}/{num_resamples} ({time.perf_counter() - t0:.1f} s)')
    sens, made_up = np.asarray(sens), np.asarray(made_up)

    def interval(a: np.ndarray) -> List[float]:
        a = a[np.isfinite(a)]
        return [float(v) for v in np.percentile(a, [2.5, 97.5])] if len(a) else \
            [float('nan'), float('nan')]
    return dict(resamples=int(num_resamples), seed=int(seed), em_not_converged=not_converged,
                readers=OrderedDict((r, dict(sensitivity=interval(sens[:, i]),
                                             false_positives_per_image=interval(made_up[:, i])))
                                    for i, r in enumerate(readers)),
                alpha=interval(np.asarray(alpha)))


# -- statistics of a data set (the data and each simulated preset) --------------------
def reader_statistics(reads: Sequence[ImageReads], iou_thr: float = 0.4,
                      class_names: Optional[Sequence[str]] = None,
                      log: Optional[Callable[[str], None]] = None) -> dict:
    """Everything but the bootstrap and the held-out check: the fitted
    CalibratedWBF, WBF clusters and fused boxes, pairwise agreement, alpha,
    the agreement histogram and the per-reader description."""
    from mmmulti.fusion.calibrated import CalibratedWBF, cluster_votes
    log = log or (lambda _msg: None)
    reads = list(reads)
    t0 = time.perf_counter()
    cw = CalibratedWBF(iou_thr=iou_thr, progress=False)
    members = cw.fuse_dataset_members(reads)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        fused = cw.fuse_dataset(reads)
    log(f'WBF + reader-rate EM: {sum(len(m) for m in members)} clusters '
        f'({time.perf_counter() - t0:.1f} s; EM {cw.model.em.describe()})')
    if sum(len(m) for m in members) != sum(len(f) for f in fused):
        raise RuntimeError('CalibratedWBF dropped clusters; diagnosis needs all of them')
    readers = sorted({r for x in reads for r in x.image_readers}, key=reader_sort_key)
    t1 = time.perf_counter()
    agree = reader_agreement(reads, fused, iou_thr, readers, min_agreement=1,
                             method=f'wbf, iou_thr={iou_thr:g}')
    drew, read = cluster_votes(reads, members, list(cw.model.readers))
    counts = vote_value_counts(drew, read)
    alpha = alpha_from_value_counts(counts)
    # the presets have three readers, and alpha's no-signal floor depends on
    # the readers per image: the comparison uses the units of 3-reader images
    alpha_3 = alpha_from_value_counts(counts[read.sum(1) == 3])
    log(f'pairwise F1 and Krippendorff\'s alpha ({time.perf_counter() - t1:.1f} s)')
    names = list(class_names) if class_names is not None else \
        [str(k) for k in range(int(max((x.labels.max() for x in reads if len(x)), default=0)) + 1)]
    mix = class_mix(reads, readers, names)
    offsets = consensus_offsets(reads, members, readers)
    size = {}
    for r in readers:
        s = [_sqrt_area(x.boxes[x.readers == r]) for x in reads]
        s = np.concatenate(s) if s else np.zeros(0)
        size[r] = float(np.median(s)) if len(s) else float('nan')
    per_reader = OrderedDict()
    stats = {s.reader: s for s in agree.per_reader}
    for r in readers:
        e = cw.reader_estimates.get(r, {})
        per_reader[r] = dict(images=int(stats[r].images), boxes=int(stats[r].boxes),
                             class_entropy_bits=mix[r]['entropy_bits'], top_classes=mix[r]['top'],
                             median_sqrt_area_px=size[r], offset=offsets[r],
                             sensitivity=e.get('sensitivity', float('nan')),
                             false_positives_per_image=e.get('false_positives_per_image',
                                                             float('nan')),
                             coincidence=e.get('coincidence', float('nan')),
                             precision=e.get('precision', float('nan')))
    iu = np.triu_indices(len(readers), 1)
    pair = agree.pair_f1[iu]
    pair_images = agree.pair_images[iu]
    sens = np.array([v['sensitivity'] for v in per_reader.values()], dtype=np.float64)
    return dict(cw=cw, members=members, fused=fused, readers=readers, agreement=agree,
                alpha=float(alpha), alpha_3_readers=float(alpha_3),
                units=int(np.sum(read.sum(1) >= 2)),
                histogram=agreement_histogram(reads, fused), per_reader=per_reader,
                mean_pair_f1=float(np.nanmean(pair[pair_images > 0]))
                if np.isfinite(pair[pair_images > 0]).any() else float('nan'),
                sensitivity_spread=float(np.nanstd(sens)) if np.isfinite(sens).any()
                else float('nan'),
                em_warnings=sorted({str(w.message) for w in caught}))


def comparison_features(stats: dict) -> Dict[str, float]:
    """The statistics the presets are compared on: shares of fused boxes
    backed by 1 / 2 / 3 of 3 readers and Krippendorff's alpha (both on images
    with three readers only: the presets have three), mean pairwise F1, spread
    (SD) of the readers' sensitivities. A statistic the data cannot give is
    left out."""
    out = OrderedDict()
    h = stats['histogram'].get('3')
    if h and sum(h):
        for k in range(3):
            out[f'share_{k + 1}_of_3'] = h[k] / sum(h)
    out['mean_pair_f1'] = stats['mean_pair_f1']
    out['alpha_3_readers'] = stats['alpha_3_readers']
    out['sensitivity_spread'] = stats['sensitivity_spread']
    return OrderedDict((k, float(v)) for k, v in out.items() if np.isfinite(v))


def preset_reference(preset: str, num_images: int = 300, iou_thr: float = 0.4,
                     seed: int = 0, img_size: int = 64) -> Dict[str, float]:
    """The comparison statistics of a simulator preset: a MED-MNIST training
    split of ``num_images`` images (3 readers, proficiency 0.8, the
    generator's defaults) is generated into a temporary folder, read back and
    measured like the data."""
    from mmmulti.io import load_multi_reader_coco
    from mmmulti.simulation.med_mnist import make_med_mnist
    with tempfile.TemporaryDirectory(prefix=f'diagnosis_{preset}_') as tmp:
        paths = make_med_mnist(tmp, num_train=num_images, num_val=0, num_test=0,
                               img_size=img_size, seed=seed, progress=False, preset=preset)
        data = load_multi_reader_coco(paths['train_multi_reader'])
    return comparison_features(reader_statistics(data.reads, iou_thr, data.class_names))


def nearest_preset(features: Dict[str, float],
                   references: Dict[str, Dict[str, float]]) -> dict:
    """Euclidean distance over the features both have (all on a 0..1-like
    scale, unweighted); the nearest preset and every distance."""
    dist = OrderedDict()
    used = OrderedDict()
    for name, ref in references.items():
        keys = [k for k in features if k in ref]
        used[name] = keys
        dist[name] = float(np.sqrt(sum((features[k] - ref[k]) ** 2 for k in keys))) \
            if keys else float('nan')
    finite = {k: v for k, v in dist.items() if np.isfinite(v)}
    return dict(nearest=min(finite, key=finite.get) if finite else None, distances=dist,
                features_used=used)


__all__ = ['consensus_offsets', 'class_mix', 'agreement_histogram', 'bootstrap_reader_rates',
           'reader_statistics', 'comparison_features', 'preset_reference', 'nearest_preset']
