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

import time
import warnings
from collections import OrderedDict
from typing import Callable, Optional, Sequence

import numpy as np

from mmmulti.structures import ImageReads
# the diagnosis's parts, importable from here as before the split
from .diagnosis_report import FIGURES, OUTPUTS, check_outputs, format_report, write_diagnosis
from .reader_alpha import alpha_from_value_counts, krippendorff_alpha_nominal, vote_value_counts
from .reader_statistics import (agreement_histogram, bootstrap_reader_rates, class_mix,
                                comparison_features, consensus_offsets, nearest_preset,
                                preset_reference, reader_statistics)
from .recommendation import ALPHA_LOW, AUC_NO_SIGNAL, ECE_MARGIN, GAP_SMALL, recommend

#: presets of :mod:`mmmulti.simulation.profiles` the data are compared with
PRESETS_COMPARED = ('paper', 'vindr_like', 'mixed')
#: methods whose held-out calibration the report shows
HELDOUT_METHODS = ('wbf', 'presence_wbf', 'calibrated_wbf')


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


__all__ = ['alpha_from_value_counts', 'krippendorff_alpha_nominal', 'vote_value_counts',
           'consensus_offsets', 'class_mix', 'agreement_histogram', 'bootstrap_reader_rates',
           'reader_statistics', 'comparison_features', 'preset_reference', 'nearest_preset',
           'recommend', 'diagnose', 'format_report', 'check_outputs', 'write_diagnosis',
           'PRESETS_COMPARED', 'HELDOUT_METHODS', 'ECE_MARGIN', 'AUC_NO_SIGNAL', 'ALPHA_LOW',
           'GAP_SMALL', 'FIGURES', 'OUTPUTS']
