"""Held-out-reader validation: does a fusion method's confidence mean anything on real readers?

No images and no clean truth are needed. On every image read by at least
``min_readers`` readers, one reader h is held out, the others' boxes are fused
with a method, and a fused box is *confirmed* when h drew a box of the same
class at IoU >= ``iou_thr`` with it. h is independent of the fusion, so the
confirmation rate by confidence shows whether the confidences rank boxes
(AUC) and how well they are calibrated (ECE, Brier, log-loss).

h misses and invents findings too, so a confirmation rate is not P(real).
Under the reader model of :mod:`mmmulti.fusion.reader_rates` (h draws a real
finding with its sensitivity s_h, lands on a spurious box with its
coincidence rate f_h, independently of the other readers):

    P(confirm) = P(real) s_h + (1 - P(real)) f_h,
    so  P(real) = (rate - f_h) / (s_h - f_h)            (the correction)

with s_h and f_h fitted on the whole file by :class:`~mmmulti.fusion.CalibratedWBF`.
A method that predicts confirmation itself (``predict_confirmation``: calibrated
WBF) is scored on that prediction; the others on their confidence as it is.

Each held-out reader is one fit: dataset-level methods (EM) are refitted on
the images h read, with h removed. A method whose model two readers cannot
identify (``crossfit_heldout``: calibrated WBF) is instead fitted with every
reader on one half of the images and applied to the other half's remaining
readers (a 2-fold cross-fit), so no box is scored by a model that saw its
held-out reader's vote on it.
On simulated data, ``truth`` adds the same figures against the clean boxes
(same class, IoU >= ``iou_thr``), so the correction can be checked.

``truth_all_readers`` scores the training targets (every reader fused)
against the clean boxes. Docs: docs/heldout.md.
"""
from __future__ import annotations

import time
from collections import OrderedDict, defaultdict
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from mmmulti.fusion.geometry import box_iou
from mmmulti.structures import FusedBoxes, ImageReads
from .calibration import bin_index, calibration_summary

#: a method to validate: (label, registered name, options)
MethodSpec = Tuple[str, str, dict]


def parse_method_spec(text: str) -> MethodSpec:
    """``NAME`` or ``NAME:key=value,key=value`` (values: numbers, true/false,
    none, or plain strings; nothing is evaluated)."""
    name, _, opts = text.partition(':')
    name = name.strip()
    if not name:
        raise ValueError(f'method {text!r}: empty name')
    options: dict = {}
    for item in filter(None, (o.strip() for o in opts.split(','))):
        key, sep, value = item.partition('=')
        if not sep or not key.strip():
            raise ValueError(f'method {text!r}: option {item!r} is not KEY=VALUE')
        options[key.strip()] = _parse_value(value.strip())
    return text.strip(), name, options


def _parse_value(v: str):
    low = v.lower()
    if low in ('true', 'false'):
        return low == 'true'
    if low in ('none', 'null'):
        return None
    for cast in (int, float):
        try:
            out = cast(v)
        except ValueError:
            continue
        if isinstance(out, float) and not np.isfinite(out):
            raise ValueError(f'option value {v!r} is not finite')
        return out
    return v


def build_method(name: str, options: dict, iou_thr: float):
    """The fusion method, with ``iou_thr`` as its clustering threshold when it
    takes one and the options do not set it."""
    from mmmulti.fusion.registry_names import accepted_options, build_fusion
    opts = dict(options)
    probe = build_fusion(name, progress=False, **opts)   # validates name and options
    if 'iou_thr' not in opts and 'iou_thr' in accepted_options(type(probe)):
        opts['iou_thr'] = iou_thr
        return build_fusion(name, progress=False, **opts)
    return probe


def without_reader(reads: ImageReads, reader: str) -> Tuple[ImageReads, np.ndarray, np.ndarray]:
    """The image's reads with ``reader`` removed, and that reader's boxes and labels."""
    mine = reads.readers == reader
    keep = ~mine
    rest = ImageReads(reads.boxes[keep], reads.labels[keep], reads.readers[keep],
                      [r for r in reads.image_readers if r != reader], reads.width,
                      reads.height, None if reads.scores is None else reads.scores[keep])
    return rest, reads.boxes[mine], reads.labels[mine]


def matched(boxes_a: np.ndarray, labels_a: np.ndarray, boxes_b: np.ndarray,
            labels_b: np.ndarray, iou_thr: float) -> Tuple[np.ndarray, np.ndarray]:
    """Which boxes of a have a box of b of the same class at IoU >= thr, and
    which of b have one of a (not one-to-one: a confirmation, not a pairing)."""
    if not len(boxes_a) or not len(boxes_b):
        return np.zeros(len(boxes_a), bool), np.zeros(len(boxes_b), bool)
    hit = (box_iou(np.asarray(boxes_a, np.float64), np.asarray(boxes_b, np.float64)) >= iou_thr)
    hit &= np.asarray(labels_a)[:, None] == np.asarray(labels_b)[None, :]
    return hit.any(1), hit.any(0)


class _Collector:
    """Per-box records of one method across the held-out folds."""

    def __init__(self) -> None:
        self.conf: List[np.ndarray] = []
        self.pred: List[np.ndarray] = []
        self.confirmed: List[np.ndarray] = []
        self.level: List[np.ndarray] = []
        self.s: List[np.ndarray] = []
        self.f: List[np.ndarray] = []
        self.real: List[np.ndarray] = []
        self.heldout_boxes = 0
        self.heldout_recovered = 0
        self.truth_boxes = 0
        self.truth_found = 0

    def cat(self, name: str) -> np.ndarray:
        parts = getattr(self, name)
        return np.concatenate(parts) if parts else np.zeros(0)


def corrected_p_real(confirmed: np.ndarray, s: np.ndarray, f: np.ndarray) -> float:
    """P(real) of a group of boxes from its confirmations: the ratio estimator
    (sum y - sum f) / (sum (s - f)) over its boxes (each box has its own held-out
    reader), clipped to [0, 1]."""
    den = float((s - f).sum())
    if not len(confirmed) or den <= 0:
        return float('nan')
    return float(np.clip((confirmed.sum() - f.sum()) / den, 0.0, 1.0))


def heldout_validation(reads: Sequence[ImageReads], methods: Sequence[MethodSpec],
                       iou_thr: float = 0.4, min_readers: int = 3,
                       truth: Optional[Sequence[ImageReads]] = None, num_bins: int = 10,
                       log: Optional[Callable[[str], None]] = None,
                       source: str = 'input') -> Dict:
    """Hold each reader out in turn and score every method (see the module).

    Returns the report dict written as ``heldout.json``."""
    if not 0.0 < iou_thr <= 1.0 or not np.isfinite(iou_thr):
        raise ValueError(f'iou_thr must be in (0, 1], got {iou_thr}')
    if int(min_readers) < 3:
        raise ValueError(f'min_readers must be >= 3 (two readers left to fuse and one '
                         f'held out), got {min_readers}')
    if not methods:
        raise ValueError('no methods to validate')
    if truth is not None and len(truth) != len(reads):
        raise ValueError(f'{len(truth)} truth images for {len(reads)} images')
    log = log or (lambda _msg: None)
    built = [(label, build_method(name, opts, iou_thr)) for label, name, opts in methods]
    eligible = [i for i, x in enumerate(reads) if x.num_readers >= min_readers]
    if not eligible:
        most = max((x.num_readers for x in reads), default=0)
        raise ValueError(f'{source}: no image is read by at least {min_readers} readers '
                         f'(the most any image has: {most}); held-out validation needs one '
                         'reader to hold out and two to fuse')
    # the held-out readers' rates, fitted on the whole file (for the correction)
    from mmmulti.fusion.calibrated import CalibratedWBF
    t0 = time.perf_counter()
    rate_model = CalibratedWBF(iou_thr=iou_thr, progress=False)
    rate_model.fuse_dataset([reads[i] for i in eligible])
    rates = {r: dict(sensitivity=e['sensitivity'], coincidence=e['coincidence'])
             for r, e in rate_model.reader_estimates.items()}
    log(f'reader rates fitted on {len(eligible)} images ({time.perf_counter() - t0:.1f} s; '
        f'EM {rate_model.model.em.describe()})')
    by_reader: Dict[str, List[int]] = defaultdict(list)
    for i in eligible:
        for r in reads[i].image_readers:
            by_reader[r].append(i)
    collectors = OrderedDict((label, _Collector()) for label, _ in built)
    # methods that cannot be refitted on two readers: 2-fold cross-fit with every reader
    fold = np.zeros(len(reads), dtype=np.int64)
    order = np.random.default_rng(0).permutation(len(eligible))
    fold[np.asarray(eligible)[order[1::2]]] = 1
    crossfits: Dict[str, tuple] = {}
    for (label, method), (_, name, opts) in zip(built, methods):
        if getattr(method, 'crossfit_heldout', False):
            pair = []
            for k in (0, 1):
                fit = build_method(name, opts, iou_thr)
                fit.fuse_dataset([reads[i] for i in eligible if fold[i] == k])
                pair.append(fit)
            crossfits[label] = tuple(pair)
            log(f'{label}: reader model cross-fitted on two halves of the images')
    for k, (reader, idx) in enumerate(sorted(by_reader.items()), 1):
        rest, held = [], []
        for i in idx:
            x, hb, hl = without_reader(reads[i], reader)
            rest.append(x)
            held.append((hb, hl))
        s_h, f_h = rates[reader]['sensitivity'], rates[reader]['coincidence']
        for label, method in built:
            t1 = time.perf_counter()
            pair = crossfits.get(label)
            if pair is None:
                fused = method.fuse_dataset(rest)
                pred = [None] * len(rest)
            else:
                # each image under the model fitted on the other half
                fits = [pair[1 - fold[i]] for i in idx]
                fused = [fit.fuse(x) for fit, x in zip(fits, rest)]
                pred = [fit.predict_confirmation(np.clip(f.confidences, 0.0, 1.0), reader)
                        for fit, f in zip(fits, fused)]
            if getattr(method, 'splits_classes', False):
                fused = [f.merged_class_split() for f in fused]
            _collect(collectors[label], fused, rest, held, idx, truth, iou_thr, s_h, f_h,
                     pred)
            log(f'[{k}/{len(by_reader)}] reader {reader} held out ({len(idx)} images): '
                f'{label} {sum(len(f) for f in fused)} boxes, {time.perf_counter() - t1:.1f} s')
    full_truth: Dict[str, Dict] = {}
    if truth is not None:
        # the training targets: every reader fused, scored against the clean boxes
        for label, method in built:
            fused = method.fuse_dataset([reads[i] for i in eligible])
            if getattr(method, 'splits_classes', False):
                fused = [f.merged_class_split() for f in fused]
            full_truth[label] = _truth_scores(fused, [truth[i] for i in eligible],
                                              [reads[i] for i in eligible], iou_thr, num_bins)
    report = dict(source=source, images=len(eligible), iou_thr=float(iou_thr),
                  min_readers=int(min_readers),
                  held_out={r: len(v) for r, v in sorted(by_reader.items())},
                  reader_rates=rates, rate_fit_em=rate_model.em, methods=OrderedDict())
    for label, col in collectors.items():
        report['methods'][label] = _summarise(col, truth is not None, num_bins,
                                              label in crossfits)
        if label in full_truth:
            report['methods'][label]['truth_all_readers'] = full_truth[label]
    return report


def _truth_scores(fused: Sequence[FusedBoxes], truth: Sequence[ImageReads],
                  reads: Sequence[ImageReads], iou_thr: float, num_bins: int) -> Dict:
    """Confidence against the clean truth, every reader fused (the targets
    training sees), overall and per agreement level."""
    conf, real, level = [], [], []
    for f, t, x in zip(fused, truth, reads):
        if not len(f):
            continue
        r, _ = matched(f.boxes, f.labels, t.boxes, t.labels, iou_thr)
        conf.append(np.clip(f.confidences.astype(np.float64), 0.0, 1.0))
        real.append(r.astype(np.float64))
        n = x.num_readers
        level += [f'{int(min(a, n))}/{n}' for a in f.agreement]
    conf = np.concatenate(conf) if conf else np.zeros(0)
    real = np.concatenate(real) if real else np.zeros(0)
    level = np.asarray(level, dtype=object)
    cal = calibration_summary(conf, real, num_bins)
    by = OrderedDict()
    for lev in sorted(set(level.tolist()), key=_level_key):
        sel = level == lev
        by[lev] = dict(boxes=int(sel.sum()), confidence=float(conf[sel].mean()),
                       truth_precision=float(real[sel].mean()))
    return dict(boxes=cal['boxes'], precision=cal['rate'], ece=cal['ece'], brier=cal['brier'],
                log_loss=cal['log_loss'], auc=cal['auc'], by_agreement=by,
                reliability=cal['reliability'])


def _collect(col: _Collector, fused: Sequence[FusedBoxes], rest: Sequence[ImageReads],
             held: Sequence[tuple], idx: Sequence[int], truth, iou_thr: float, s_h: float,
             f_h: float, predictions: Sequence[Optional[np.ndarray]]) -> None:
    for f, x, (hb, hl), i, pred in zip(fused, rest, held, idx, predictions):
        confirmed, recovered = matched(f.boxes, f.labels, hb, hl, iou_thr)
        col.heldout_boxes += len(hb)
        col.heldout_recovered += int(recovered.sum())
        if truth is not None:
            t = truth[i]
            real, found = matched(f.boxes, f.labels, t.boxes, t.labels, iou_thr)
            col.real.append(real.astype(np.float64))
            col.truth_boxes += len(t)
            col.truth_found += int(found.sum())
        if not len(f):
            continue
        conf = np.clip(f.confidences.astype(np.float64), 0.0, 1.0)
        col.conf.append(conf)
        col.pred.append(conf if pred is None else np.asarray(pred, dtype=np.float64))
        col.confirmed.append(confirmed.astype(np.float64))
        n = x.num_readers
        col.level.append(np.array([f'{int(min(a, n))}/{n}' for a in f.agreement], dtype=object))
        col.s.append(np.full(len(f), s_h))
        col.f.append(np.full(len(f), f_h))


def _level_key(level: str) -> tuple:
    k, n = level.split('/')
    return int(n), int(k)


def _summarise(col: _Collector, with_truth: bool, num_bins: int, predicts: bool) -> Dict:
    conf, pred, y = col.cat('conf'), col.cat('pred'), col.cat('confirmed')
    level = np.concatenate(col.level) if col.level else np.zeros(0, dtype=object)
    s, f = col.cat('s'), col.cat('f')
    cal = calibration_summary(pred, y, num_bins)
    out = dict(boxes=int(len(y)),
               recall=col.heldout_recovered / col.heldout_boxes if col.heldout_boxes
               else float('nan'),
               confirmed=cal['rate'], ece=cal['ece'], brier=cal['brier'],
               log_loss=cal['log_loss'], auc=cal['auc'],
               scored_on='predicted confirmation P(real) s_h + (1 - P(real)) f_h'
               if predicts else 'confidence',
               reliability=cal['reliability'])
    real = col.cat('real') if with_truth else None
    if with_truth:
        # the boxes of images without fused boxes were appended too (empty)
        tcal = calibration_summary(conf, real, num_bins)
        out['truth'] = dict(precision=tcal['rate'], recall=col.truth_found / col.truth_boxes
                            if col.truth_boxes else float('nan'), ece=tcal['ece'],
                            brier=tcal['brier'], log_loss=tcal['log_loss'], auc=tcal['auc'],
                            reliability=tcal['reliability'])
    by_level = OrderedDict()
    for lev in sorted(set(level.tolist()), key=_level_key):
        sel = level == lev
        row = dict(boxes=int(sel.sum()), confirmed=float(y[sel].mean()),
                   confidence=float(conf[sel].mean()), predicted=float(pred[sel].mean()),
                   p_real_corrected=corrected_p_real(y[sel], s[sel], f[sel]))
        if with_truth:
            row['truth_precision'] = float(real[sel].mean())
        by_level[lev] = row
    out['by_agreement'] = by_level
    bins = []
    which = bin_index(pred, num_bins)
    for b in cal['reliability']:
        sel = which == int(round(b['low'] * num_bins))
        b = dict(b, p_real_corrected=corrected_p_real(y[sel], s[sel], f[sel]),
                 confidence=float(conf[sel].mean()))
        if with_truth:
            b['truth_precision'] = float(real[sel].mean())
        bins.append(b)
    out['reliability'] = bins
    return out


def _f(v, digits: int = 3) -> str:
    return '' if v is None or (isinstance(v, float) and not np.isfinite(v)) else f'{v:.{digits}f}'


def format_markdown(report: Dict) -> str:
    """``heldout.md``: the summary table, then per method the agreement levels."""
    truth = any('truth' in m for m in report['methods'].values())
    lines = [f'# Held-out-reader validation', '',
             f'Source: `{report["source"]}`; {report["images"]} images read by at least '
             f'{report["min_readers"]} readers; each reader held out in turn '
             f'({", ".join(f"{r}: {n}" for r, n in report["held_out"].items())} images); '
             f'a fused box is confirmed when the held-out reader drew a box of the same '
             f'class at IoU >= {report["iou_thr"]:g}. ECE, Brier, log-loss and AUC are of '
             'the prediction against confirmation: the confidence itself, or, for a method '
             'with a reader model, its predicted confirmation P(real) s + (1 - P(real)) f. '
             'Method and limits: docs/heldout.md.', '',
             '| method | fused boxes | confirmed | recall of held-out boxes | ECE | Brier | '
             'log-loss | AUC |' + (' truth precision | truth ECE | truth AUC | targets: truth '
                                   'ECE (all readers) |' if truth else ''),
             '|---|---|---|---|---|---|---|---|' + ('---|---|---|---|' if truth else '')]
    for label, m in report['methods'].items():
        row = (f'| {label} | {m["boxes"]} | {_f(m["confirmed"])} | {_f(m["recall"])} | '
               f'{_f(m["ece"])} | {_f(m["brier"])} | {_f(m["log_loss"])} | {_f(m["auc"])} |')
        if truth:
            t, a = m.get('truth', {}), m.get('truth_all_readers', {})
            row += (f' {_f(t.get("precision"))} | {_f(t.get("ece"))} | {_f(t.get("auc"))} | '
                    f'{_f(a.get("ece"))} |')
        lines.append(row)
    lines += ['', '## By agreement (k of the n readers left)', '',
              '| method | level | boxes | confidence | predicted | confirmed | P(real), corrected |'
              + (' P(real), simulator truth |' if truth else ''),
              '|---|---|---|---|---|---|---|' + ('---|' if truth else '')]
    for label, m in report['methods'].items():
        for lev, r in m['by_agreement'].items():
            row = (f'| {label} | {lev} | {r["boxes"]} | {_f(r["confidence"])} | '
                   f'{_f(r["predicted"])} | {_f(r["confirmed"])} | {_f(r["p_real_corrected"])} |')
            if truth:
                row += f' {_f(r.get("truth_precision"))} |'
            lines.append(row)
    lines += ['', '## Held-out readers\' rates (fitted on the whole file, used by the '
              'correction)', '', '| reader | sensitivity s | coincidence f |', '|---|---|---|']
    for r, v in report['reader_rates'].items():
        lines.append(f'| {r} | {_f(v["sensitivity"])} | {_f(v["coincidence"])} |')
    em = report.get('rate_fit_em') or {}
    if em:
        lines += ['', f'Reader-rate EM: {em.get("iterations")} rounds, '
                  f'{"converged" if em.get("converged") else "NOT converged (stopped at max_iter)"}.']
    lines += ['', '![reliability](reliability.png)', '']
    return '\n'.join(lines)


__all__ = ['format_markdown', 'MethodSpec', 'parse_method_spec', 'build_method', 'without_reader', 'matched',
           'corrected_p_real', 'heldout_validation']
