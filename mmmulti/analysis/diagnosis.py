"""Diagnosis of a multi-reader data set: what the readers' boxes say before training.

One call, :func:`diagnose`, collects (numpy only; docs/diagnosis.md):

1. per reader: images read, boxes, class mix, box size, box offset against
   the other readers of the same finding, and the sensitivity and made-up
   boxes per image fitted by :class:`~mmmulti.fusion.CalibratedWBF`, with
   95 % bootstrap intervals over images (:func:`bootstrap_reader_rates`);
2. agreement between readers: pairwise F1
   (:func:`mmmulti.analysis.reader_agreement.reader_agreement`) and
   Krippendorff's alpha of the present / absent votes on every WBF cluster
   (:func:`krippendorff_alpha_nominal`);
3. the agreement histogram: fused boxes backed by k of the image's n readers;
4. held-out-reader calibration of wbf, presence_wbf and calibrated_wbf
   (:func:`mmmulti.analysis.heldout.heldout_validation`), when some image
   has at least three readers;
5. the simulator preset nearest to these statistics, the presets' statistics
   measured on a small set generated at diagnosis time (:func:`preset_reference`);
6. a recommendation, by the explicit rule of :func:`recommend`.

:func:`format_report` writes ``report.md``; :func:`write_diagnosis` writes it,
``diagnosis.json`` and the figures atomically.
"""
from __future__ import annotations

import math
import os
import os.path as osp
import tempfile
import time
import warnings
from collections import OrderedDict
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

from mmmulti.converters.vindr_cxr import reader_sort_key
from mmmulti.structures import ImageReads
from .reader_agreement import reader_agreement

#: presets of :mod:`mmmulti.simulation.profiles` the data are compared with
PRESETS_COMPARED = ('paper', 'vindr_like', 'mixed')
#: methods whose held-out calibration the report shows
HELDOUT_METHODS = ('wbf', 'presence_wbf', 'calibrated_wbf')

# -- the recommendation's thresholds (set by hand, not tuned; printed in the report) --
#: calibrated_wbf's held-out ECE must be at least this much below wbf's
ECE_MARGIN = 0.05
#: every method's held-out AUC below this: the confidences do not rank boxes
AUC_NO_SIGNAL = 0.55
#: Krippendorff's alpha below this is "very low" agreement: readers agree no
#: more than chance would on the pooled votes. Units are clusters someone drew,
#: so alpha is biased down: with three readers and rare findings, votes with no
#: signal at all give about -0.5 (every unit 1 present, 2 absent), not 0
ALPHA_LOW = 0.0
#: confirmation of n/n boxes minus that of 1/n boxes below this: agreement
#: does not tell a box a held-out reader will confirm from one it will not
GAP_SMALL = 0.10

#: the figures written next to report.md
FIGURES = ('agreement_histogram.png', 'reader_rates.png', 'pair_f1.png', 'reliability.png')
OUTPUTS = ('report.md', 'diagnosis.json') + FIGURES


# -- Krippendorff's alpha ---------------------------------------------------------------
def alpha_from_value_counts(counts: np.ndarray) -> float:
    """Krippendorff's alpha (nominal) from per-unit value counts.

    ``counts[u, c]`` is how many coders gave unit u value c (missing values
    are simply not counted). Units with fewer than two values are not
    pairable and are left out. With m_u values in unit u, n_c = sum_u
    counts[u, c] and n = sum_c n_c over the pairable units:

        D_o = sum_u (m_u^2 - sum_c counts[u, c]^2) / (m_u - 1)   (mismatching pairs)
        D_e = (n^2 - sum_c n_c^2) / (n - 1)
        alpha = 1 - D_o / D_e

    NaN when there is nothing to compare (no pairable unit, or a single value
    throughout, D_e = 0).
    """
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim != 2:
        raise ValueError(f'counts must be (units, values), got shape {counts.shape}')
    m = counts.sum(1)
    keep = m >= 2
    counts, m = counts[keep], m[keep]
    if not len(m):
        return float('nan')
    d_o = float(((m ** 2 - (counts ** 2).sum(1)) / (m - 1)).sum())
    n_c = counts.sum(0)
    n = float(n_c.sum())
    d_e = (n ** 2 - float((n_c ** 2).sum())) / (n - 1)
    if d_e <= 0:
        return float('nan')
    return 1.0 - d_o / d_e


def krippendorff_alpha_nominal(data) -> float:
    """Krippendorff's alpha for nominal values with missing data.

    ``data`` is (units, coders); NaN (or None) is a missing value: the coder
    did not rate the unit. Any other values are categories, compared for
    equality only. See :func:`alpha_from_value_counts`.
    """
    x = np.asarray(data, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f'data must be (units, coders), got shape {x.shape}')
    values = np.unique(x[~np.isnan(x)])
    counts = np.stack([(x == v).sum(1) for v in values], 1) if len(values) else \
        np.zeros((len(x), 0))
    return alpha_from_value_counts(counts)


def vote_value_counts(drew: np.ndarray, read: np.ndarray) -> np.ndarray:
    """(clusters, 2) counts of absent / present votes: every reader who read
    the cluster's image is a coder, present when it has a box in the cluster;
    a reader who did not read the image is missing."""
    present = (drew * read).sum(1)
    return np.stack([read.sum(1) - present, present], 1)


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


# -- the recommendation -----------------------------------------------------------------
def _confirmation_gap(method: dict) -> Optional[dict]:
    """Confirmation of n/n boxes minus that of 1/n boxes, at the n (readers
    left after holding one out) with most boxes."""
    by_n: Dict[int, dict] = {}
    for level, row in method.get('by_agreement', {}).items():
        k, n = (int(v) for v in level.split('/'))
        by_n.setdefault(n, {})[k] = row
    best = None
    for n, rows in by_n.items():
        if n >= 2 and 1 in rows and n in rows:
            boxes = sum(r['boxes'] for r in rows.values())
            if best is None or boxes > best[0]:
                best = (boxes, n, rows[1]['confirmed'], rows[n]['confirmed'])
    if best is None:
        return None
    _, n, low, high = best
    return dict(n=n, confirmed_1_of_n=low, confirmed_n_of_n=high, gap=high - low)


def recommend(alpha: float, heldout: Optional[dict], nearest: Optional[str]) -> dict:
    """The advice, by an explicit rule (thresholds: the module constants).

    With a held-out check:

    1. every method's held-out AUC < AUC_NO_SIGNAL, or alpha < ALPHA_LOW and
       the confirmation gap (n/n minus 1/n, wbf) < GAP_SMALL: agreement carries
       no signal; train on all boxes (the ``baseline`` arm);
    2. else calibrated_wbf's ECE at least ECE_MARGIN below wbf's:
       ``calibrated_earl`` (EARL weights = calibrated confidences);
    3. else ``wbf_earl`` (the paper's agreement weights).

    Without one (no image with three readers) nothing on the data can tell
    the choices apart (alpha alone cannot: its no-signal floor depends on the
    readers per image): the paper's ``wbf_earl``, marked unverified, to be
    compared with the all-boxes baseline.
    """
    ev = OrderedDict(alpha=alpha, nearest_preset=nearest)
    rule = (f'no signal if max held-out AUC < {AUC_NO_SIGNAL} or (alpha < {ALPHA_LOW} and '
            f'confirmation gap n/n - 1/n < {GAP_SMALL}); else calibrated_earl if ECE(wbf) - '
            f'ECE(calibrated_wbf) >= {ECE_MARGIN}; else wbf_earl')
    if not heldout:
        return dict(arm='wbf_earl', fusion='wbf', verified=False, evidence=ev, rule=rule,
                    reason='UNVERIFIED: no held-out check is possible (no image has three '
                    'readers), so nothing in the data tells the fusions apart; the paper\'s '
                    'WBF + EARL is the default, and training it against the all-boxes '
                    'baseline is the only check')
    methods = heldout['methods']
    auc = {k: m['auc'] for k, m in methods.items()}
    ece = {k: m['ece'] for k, m in methods.items()}
    gap = _confirmation_gap(methods['wbf']) if 'wbf' in methods else None
    ev.update(auc=auc, ece=ece, confirmation_gap=gap)
    finite_auc = [v for v in auc.values() if v is not None and np.isfinite(v)]
    max_auc = max(finite_auc) if finite_auc else float('nan')
    no_rank = not finite_auc or max_auc < AUC_NO_SIGNAL
    flat = (np.isfinite(alpha) and alpha < ALPHA_LOW and gap is not None
            and gap['gap'] < GAP_SMALL)
    if no_rank or flat:
        why = (f'every method\'s held-out AUC < {AUC_NO_SIGNAL} (best {max_auc:.3f}): '
               'the confidences do not rank boxes' if no_rank else
               f'alpha {alpha:.3f} < {ALPHA_LOW} and a held-out reader confirms '
               f'{gap["n"]}/{gap["n"]} boxes ({gap["confirmed_n_of_n"]:.3f}) hardly more '
               f'often than 1/{gap["n"]} boxes ({gap["confirmed_1_of_n"]:.3f})')
        return dict(arm='baseline', fusion='all_boxes', verified=True, rule=rule, evidence=ev,
                    reason=why + '; agreement carries no signal, so training on all boxes is '
                    'the safer choice (a published study found all boxes best on real VinDr-CXR)')
    d_ece = ece.get('wbf', float('nan')) - ece.get('calibrated_wbf', float('nan'))
    ev['ece_gain'] = d_ece
    if np.isfinite(d_ece) and d_ece >= ECE_MARGIN:
        return dict(arm='calibrated_earl', fusion='calibrated_wbf', verified=True, rule=rule,
                    evidence=ev, reason=(
                        f'calibrated_wbf\'s held-out ECE {ece["calibrated_wbf"]:.3f} is '
                        f'{d_ece:.3f} below wbf\'s {ece["wbf"]:.3f} (margin {ECE_MARGIN}): '
                        'its confidences are probabilities, use them as EARL weights'))
    return dict(arm='wbf_earl', fusion='wbf', verified=True, rule=rule, evidence=ev, reason=(
        f'agreement ranks boxes (best AUC {max_auc:.3f}) and calibration gains less than '
        f'{ECE_MARGIN} ECE ({d_ece:.3f}): WBF + EARL with agreement weights'))


# -- the whole diagnosis ----------------------------------------------------------------
def diagnose(reads: Sequence[ImageReads], class_names: Optional[Sequence[str]] = None,
             iou_thr: float = 0.4, bootstrap: int = 30, seed: int = 0,
             sim_images: int = 300, heldout: bool = True, source: str = 'input',
             log: Optional[Callable[[str], None]] = None) -> dict:
    """Diagnose a multi-reader data set (see the module); returns the dict
    written as ``diagnosis.json``.

    Raises ValueError when there is nothing to diagnose: no image, no box, or
    no image read by two readers."""
    from mmmulti.analysis.heldout import heldout_validation, parse_method_spec
    log = log or (lambda _msg: None)
    reads = list(reads)
    if not reads:
        raise ValueError(f'{source}: no images')
    if not any(len(x) for x in reads):
        raise ValueError(f'{source}: no reader drew any box')
    most = max(x.num_readers for x in reads)
    if most < 2:
        raise ValueError(f'{source}: no image is read by two or more readers (at most '
                         f'{most}): there is no agreement to diagnose')
    if bootstrap < 0:
        raise ValueError(f'bootstrap resamples must be >= 0, got {bootstrap}')
    t0 = time.perf_counter()
    st = reader_statistics(reads, iou_thr, class_names, log)
    cw = st['cw']
    boot = None
    if bootstrap:
        init = np.concatenate([f.confidences for f in st['fused'] if len(f)]).astype(np.float64)
        boot = bootstrap_reader_rates(cw, reads, st['members'], init, bootstrap, seed, log)
    ho, ho_reason, ho_warnings = None, None, []
    eligible = sum(x.num_readers >= 3 for x in reads)
    if not heldout:
        ho_reason = 'held-out validation not run (switched off)'
    elif not eligible:
        ho_reason = (f'held-out validation is not possible: no image is read by three or '
                     f'more readers (at most {most}); it needs one reader to hold out and two '
                     'to fuse')
    else:
        log(f'held-out validation on {eligible} images with >= 3 readers')
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            ho = heldout_validation(reads, [parse_method_spec(m) for m in HELDOUT_METHODS],
                                    iou_thr=iou_thr, log=log, source=source)
        ho_warnings = sorted({' '.join(str(w.message).split()) for w in caught})
    features = comparison_features(st)
    refs = OrderedDict()
    if sim_images:
        t1 = time.perf_counter()
        for p in PRESETS_COMPARED:
            refs[p] = preset_reference(p, sim_images, iou_thr, seed)
        log(f'simulated {sim_images} images per preset ({", ".join(PRESETS_COMPARED)}; '
            f'{time.perf_counter() - t1:.1f} s)')
    near = nearest_preset(features, refs) if refs else dict(nearest=None, distances={},
                                                             features_used={})
    advice = recommend(st['alpha'], ho, near['nearest'])
    agree = st['agreement']
    per_reader = st['per_reader']
    if boot:
        for r, v in per_reader.items():
            v['interval'] = boot['readers'].get(r, {})
    out = OrderedDict(
        source=source, images=len(reads), boxes=int(sum(len(x) for x in reads)),
        readers=st['readers'], iou_thr=float(iou_thr),
        readers_per_image={str(n): int(c) for n, c in zip(*np.unique(
            [x.num_readers for x in reads], return_counts=True))},
        class_names=list(class_names) if class_names is not None else None,
        per_reader=per_reader,
        reader_model=dict(em=cw.em, prior=float(cw.model.prior), warnings=st['em_warnings']),
        bootstrap=boot,
        agreement=dict(pair_f1=[[None if not np.isfinite(v) else float(v) for v in row]
                                for row in agree.pair_f1],
                       pair_images=agree.pair_images.tolist(),
                       mean_pair_f1=st['mean_pair_f1'], alpha=st['alpha'],
                       alpha_interval=boot['alpha'] if boot else None, alpha_units=st['units']),
        histogram=st['histogram'],
        heldout=ho, heldout_unavailable=ho_reason, heldout_warnings=ho_warnings,
        presets=dict(features=features, references=refs, images_per_preset=int(sim_images),
                     **near),
        recommendation=advice,
        thresholds=dict(ECE_MARGIN=ECE_MARGIN, AUC_NO_SIGNAL=AUC_NO_SIGNAL,
                        ALPHA_LOW=ALPHA_LOW, GAP_SMALL=GAP_SMALL),
        seconds=time.perf_counter() - t0)
    return out


# -- the report -------------------------------------------------------------------------
def _f(v, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return '-'
    return f'{v:.{digits}f}'


def _iv(v, iv, digits: int = 3) -> str:
    if not iv or any(x is None or not math.isfinite(x) for x in iv):
        return _f(v, digits)
    return f'{_f(v, digits)} [{_f(iv[0], digits)}, {_f(iv[1], digits)}]'


def format_report(d: dict) -> str:
    """``report.md``: the six parts of the diagnosis, figures linked."""
    boot = d.get('bootstrap')
    rpi = ', '.join(f'{c} image(s) with {n} readers' for n, c in d['readers_per_image'].items())
    lines = ['# Reader diagnosis', '',
             f'Source: `{d["source"]}`; {d["images"]} images, {d["boxes"]} boxes, '
             f'{len(d["readers"])} readers; {rpi}. Matching and WBF at IoU {d["iou_thr"]:g}, '
             'same class. What each part means and its limits: docs/diagnosis.md.', '',
             '## 1. Readers', '',
             'Sensitivity (share of real findings the reader draws) and made-up boxes per image '
             'are fitted by `calibrated_wbf`\'s reader-rate EM; '
             + (f'in brackets the 95 % percentile interval of {boot["resamples"]} bootstrap '
                'resamples of the images (clusters reused, EM refitted; coincidence rates fixed).'
                if boot else 'no bootstrap was run.')
             + ' Offset: the reader\'s box against the mean box of the other readers of the same '
             'WBF cluster (dx, dy in units of its width / height; log s = log size ratio).', '',
             '| reader | images | boxes | top classes | class entropy (bits) | '
             'median sqrt(area) px | dx | dy | log s | matched | sensitivity | '
             'made-up boxes / image |',
             '|---|---|---|---|---|---|---|---|---|---|---|---|']
    for r, v in d['per_reader'].items():
        iv = v.get('interval', {})
        top = ', '.join(f'{c} {p:.0%}' for c, p in v['top_classes'])
        o = v['offset']
        fp = _iv(v['false_positives_per_image'], iv.get('false_positives_per_image'))
        lines.append(f'| {r} | {v["images"]} | {v["boxes"]} | {top} | '
                     f'{_f(v["class_entropy_bits"], 2)} | {_f(v["median_sqrt_area_px"], 1)} | '
                     f'{_f(o["dx"])} | {_f(o["dy"])} | {_f(o["log_scale"])} | {o["matched"]} | '
                     f'{_iv(v["sensitivity"], iv.get("sensitivity"))} | '
                     f'{fp} |')
    em = d['reader_model']['em'] or {}
    lines += ['', f'Reader-rate EM: {em.get("iterations")} rounds, '
              + ('converged.' if em.get('converged') else
                 '**NOT converged** (stopped at max_iter): treat the rates with care.')
              + (f' {boot["em_not_converged"]} of {boot["resamples"]} bootstrap fits did not '
                 'converge.' if boot and boot['em_not_converged'] else ''),
              '', '![reader rates](reader_rates.png)', '']
    a = d['agreement']
    rd = d['readers']
    lines += ['## 2. Agreement between readers', '',
              f'F1 of two readers\' boxes on the images both read (IoU >= {d["iou_thr"]:g}, same '
              f'class; images in brackets); mean over pairs {_f(a["mean_pair_f1"])}.', '',
              '| | ' + ' | '.join(rd) + ' |', '|---|' + '---|' * len(rd)]
    for i, r in enumerate(rd):
        cells = []
        for j in range(len(rd)):
            v = a['pair_f1'][i][j]
            cells.append('' if i == j else f'{_f(v)} [{a["pair_images"][i][j]}]')
        lines.append(f'| {r} | ' + ' | '.join(cells) + ' |')
    lines += ['', f'Krippendorff\'s alpha (nominal; unit = WBF cluster, coder = reader of the '
              f'image voting present / absent, readers who did not read it missing): '
              f'**{_iv(a["alpha"], a.get("alpha_interval"))}** on {a["alpha_units"]} clusters. '
              '1 = perfect agreement, 0 = chance level on the pooled votes. Findings nobody drew '
              'are no unit, so alpha is biased down: votes without any signal give about -0.5 '
              'with three readers and rare findings. Compare it across data sets with the same '
              'number of readers per image (section 5), not with 0.', '',
              '![pairwise F1](pair_f1.png)', '',
              '## 3. Agreement histogram', '',
              f'Fused boxes (WBF, IoU {d["iou_thr"]:g}) backed by k of the image\'s n '
              'readers.', '']
    for n, h in d['histogram'].items():
        total = max(sum(h), 1)
        lines += [f'| n = {n} | ' + ' | '.join(f'{k + 1}/{n}' for k in range(len(h))) + ' | all |',
                  '|---|' + '---|' * (len(h) + 1),
                  '| boxes | ' + ' | '.join(str(c) for c in h) + f' | {sum(h)} |',
                  '| share | ' + ' | '.join(f'{c / total:.3f}' for c in h) + ' | 1 |', '']
    lines += ['![agreement histogram](agreement_histogram.png)', '',
              '## 4. Held-out calibration', '']
    ho = d.get('heldout')
    if not ho:
        lines += [f'**{d["heldout_unavailable"]}.** The recommendation below is therefore not '
                  'verified on the data.', '']
    else:
        lines += [f'{ho["images"]} images read by >= 3 readers; each reader held out in turn, '
                  'the others fused; a fused box is confirmed when the held-out reader drew a box '
                  f'of its class at IoU >= {ho["iou_thr"]:g}. ECE / Brier / AUC of the confidence '
                  '(calibrated_wbf: of its predicted confirmation) against confirmation; recall = '
                  'share of the held-out reader\'s boxes the fusion found.', '',
                  '| method | fused boxes | confirmed | recall | ECE | Brier | AUC |',
                  '|---|---|---|---|---|---|---|']
        for label, m in ho['methods'].items():
            lines.append(f'| {label} | {m["boxes"]} | {_f(m["confirmed"])} | {_f(m["recall"])} | '
                         f'{_f(m["ece"])} | {_f(m["brier"])} | {_f(m["auc"])} |')
        lines += ['', 'Confirmation by agreement (k of the n readers left):', '',
                  '| method | level | boxes | confidence | predicted | confirmed | '
                  'P(real), corrected |', '|---|---|---|---|---|---|---|']
        for label, m in ho['methods'].items():
            for lev, r in m['by_agreement'].items():
                lines.append(f'| {label} | {lev} | {r["boxes"]} | {_f(r["confidence"])} | '
                             f'{_f(r["predicted"])} | {_f(r["confirmed"])} | '
                             f'{_f(r["p_real_corrected"])} |')
        ws = d.get('heldout_warnings') or []
        if ws:
            lines += ['', f'WARNING: {ws[0]}' + (f' (and {len(ws) - 1} more EM warning(s) like '
                                                 'it, in diagnosis.json)' if len(ws) > 1 else '')]
        lines += ['', '![reliability](reliability.png)', '']
    p = d['presets']
    lines += ['## 5. Nearest simulator preset', '']
    if not p['references']:
        lines += ['Not computed (no simulated images asked for).', '']
    else:
        keys = list(p['features'])
        lines += [f'Each preset simulated at diagnosis time ({p["images_per_preset"]} images, 3 '
                  'readers, proficiency 0.8); distance = Euclidean over the statistics below '
                  '(unweighted).', '',
                  '| | ' + ' | '.join(keys) + ' | distance |', '|---|' + '---|' * (len(keys) + 1),
                  '| **this data** | ' + ' | '.join(_f(p['features'][k]) for k in keys) + ' | |']
        for name, ref in p['references'].items():
            lines.append(f'| {name} | ' + ' | '.join(_f(ref.get(k)) for k in keys)
                         + f' | {_f(p["distances"].get(name))} |')
        lines += ['', f'Nearest preset: **{p["nearest"]}**.', '']
    rec = d['recommendation']
    ev = rec['evidence']
    lines += ['## 6. Recommendation', '',
              f'**{rec["arm"]}** (fusion `{rec["fusion"]}`): {rec["reason"]}.', '',
              'Evidence: ' + '; '.join(
                  [f'alpha {_f(ev.get("alpha"))}']
                  + [f'held-out ECE {k} {_f(v)}' for k, v in (ev.get('ece') or {}).items()]
                  + [f'held-out AUC {k} {_f(v)}' for k, v in (ev.get('auc') or {}).items()]
                  + ([f'confirmed 1/{g["n"]} {_f(g["confirmed_1_of_n"])} vs {g["n"]}/{g["n"]} '
                      f'{_f(g["confirmed_n_of_n"])}'] if (g := ev.get('confirmation_gap')) else [])
                  + [f'nearest preset {ev.get("nearest_preset")}']) + '.', '',
              f'Rule: {rec["rule"]} (thresholds set by hand: ECE_MARGIN {ECE_MARGIN}, '
              f'AUC_NO_SIGNAL {AUC_NO_SIGNAL}, ALPHA_LOW {ALPHA_LOW}, GAP_SMALL {GAP_SMALL}; '
              '`mmmulti/analysis/diagnosis.py`).', '',
              'The advice rests on the held-out check (another reader, not the truth) and on '
              'simulation (the nearest preset says which simulated regime this data resembles; '
              'the protocol results per preset are in README.md). It is not a measurement of '
              'detector accuracy: confirm it by training the recommended arm against the '
              'baseline (`tools/run_protocol.py`).', '']
    return '\n'.join(lines)


# -- writing ----------------------------------------------------------------------------
def _jsonable(v):
    if isinstance(v, dict):
        return OrderedDict((str(k), _jsonable(x)) for k, x in v.items()
                           if not str(k).startswith('_'))
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.ndarray):
        return _jsonable(v.tolist())
    if isinstance(v, (np.bool_, bool)):
        return bool(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return float(v) if math.isfinite(v) else None
    return v


def check_outputs(out_dir: str, inputs: Sequence[str]) -> None:
    """Refuse an output folder that is an input file, or whose outputs would
    replace an input (OverwriteInputError / ValueError)."""
    from mmmulti.utils.atomic import OverwriteInputError, same_file
    for inp in inputs:
        if same_file(out_dir, inp):
            raise OverwriteInputError(f'--out {out_dir} is the input file {inp}; choose '
                                      'another output folder')
        for name in OUTPUTS:
            if same_file(osp.join(out_dir, name), inp):
                raise OverwriteInputError(f'--out {out_dir}: writing {name} there would replace '
                                          f'the input file {inp}; choose another output folder')
    if osp.exists(out_dir) and not osp.isdir(out_dir):
        raise ValueError(f'--out {out_dir} exists and is not a folder')


def write_diagnosis(d: dict, out_dir: str) -> List[str]:
    """``report.md``, ``diagnosis.json`` and the figures in ``out_dir``, each
    written atomically; returns the paths."""
    from mmmulti.utils.atomic import atomic_write, dump_json_atomic
    from mmmulti.visualization import diagnosis as figs
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    figs.plot_agreement_histogram(d, osp.join(out_dir, 'agreement_histogram.png'))
    figs.plot_reader_rates(d, osp.join(out_dir, 'reader_rates.png'))
    figs.plot_pair_f1(d, osp.join(out_dir, 'pair_f1.png'))
    paths += [osp.join(out_dir, n) for n in FIGURES[:3]]
    if d.get('heldout'):
        from mmmulti.visualization.reliability import plot_reliability
        plot_reliability(d['heldout'], osp.join(out_dir, 'reliability.png'))
        paths.append(osp.join(out_dir, 'reliability.png'))
    dump_json_atomic(_jsonable(d), osp.join(out_dir, 'diagnosis.json'), indent=1)
    with atomic_write(osp.join(out_dir, 'report.md')) as f:
        f.write(format_report(d))
    return [osp.join(out_dir, 'report.md'), osp.join(out_dir, 'diagnosis.json')] + paths


__all__ = ['alpha_from_value_counts', 'krippendorff_alpha_nominal', 'vote_value_counts',
           'consensus_offsets', 'class_mix', 'agreement_histogram', 'bootstrap_reader_rates',
           'reader_statistics', 'comparison_features', 'preset_reference', 'nearest_preset',
           'recommend', 'diagnose', 'format_report', 'check_outputs', 'write_diagnosis',
           'PRESETS_COMPARED', 'HELDOUT_METHODS', 'ECE_MARGIN', 'AUC_NO_SIGNAL', 'ALPHA_LOW',
           'GAP_SMALL', 'OUTPUTS']
