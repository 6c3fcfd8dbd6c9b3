"""The reader diagnosis's outputs (:mod:`.diagnosis`): ``report.md``, the JSON
and the figures, written atomically, and the check that none replaces an input."""
from __future__ import annotations

import math
import os
import os.path as osp
from collections import OrderedDict
from typing import List, Sequence

import numpy as np

from .recommendation import ALPHA_LOW, AUC_NO_SIGNAL, ECE_MARGIN, GAP_SMALL

#: the figures written next to report.md
FIGURES = ('agreement_histogram.png', 'reader_rates.png', 'pair_f1.png', 'reliability.png')
OUTPUTS = ('report.md', 'diagnosis.json') + FIGURES


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
              '`mmmulti/analysis/recommendation.py`).', '',
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


__all__ = ['format_report', 'check_outputs', 'write_diagnosis', 'FIGURES', 'OUTPUTS']
