"""Figures of the reader diagnosis (:mod:`mmmulti.analysis.diagnosis`; matplotlib, Agg,
imported lazily). Each takes the diagnosis dict and writes one PNG atomically."""
from __future__ import annotations

from typing import Dict

import numpy as np

from mmmulti.utils.atomic import atomic_path


def _figure(width: float, height: float, dpi: int):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, out_path: str) -> None:
    fig.tight_layout()
    with atomic_path(out_path) as tmp:
        fig.savefig(tmp, format='png')


def plot_agreement_histogram(d: Dict, out_path: str, dpi: int = 110) -> None:
    """Bars: share of fused boxes backed by k of n readers, one panel per n
    (at most four, the n with most boxes)."""
    hist = d['histogram']
    ns = sorted(hist, key=lambda n: -sum(hist[n]))[:4] or []
    ns = sorted(ns, key=int)
    fig = _figure(max(4.0, 3.4 * max(len(ns), 1)), 3.4, dpi)
    axes = fig.subplots(1, max(len(ns), 1), squeeze=False)[0]
    if not ns:
        axes[0].text(0.5, 0.5, 'no fused boxes', ha='center', va='center')
    for ax, n in zip(axes, ns):
        h = np.asarray(hist[n], dtype=float)
        share = h / max(h.sum(), 1)
        x = np.arange(1, len(h) + 1)
        bars = ax.bar(x, share, color='#1f77b4')
        if len(h) <= 12:
            for b, s, c in zip(bars, share, h):
                ax.text(b.get_x() + b.get_width() / 2, s + 0.01, f'{s:.2f}\n({int(c)})',
                        ha='center', va='bottom', fontsize=7)
        ax.set_xticks(x, [f'{k}/{n}' for k in x], fontsize=7,
                      rotation=45 if len(h) > 6 else 0)
        ax.set_ylim(0, min(1.0, share.max() + 0.2) if len(share) else 1)
        ax.set_xlabel('readers backing the fused box', fontsize=8)
        ax.set_title(f'images with {n} readers ({int(h.sum())} boxes)', fontsize=9)
    axes[0].set_ylabel('share of fused boxes', fontsize=8)
    fig.suptitle(f'Agreement histogram (WBF, IoU {d["iou_thr"]:g})', fontsize=10)
    _save(fig, out_path)


def plot_reader_rates(d: Dict, out_path: str, dpi: int = 110) -> None:
    """Per reader: sensitivity and made-up boxes per image, with the
    bootstrap intervals as error bars."""
    readers = list(d['per_reader'])
    n = len(readers)
    fig = _figure(max(7.0, 2.0 + 0.7 * n), 3.4, dpi)
    axes = fig.subplots(1, 2)
    x = np.arange(n)
    for ax, key, title, color in ((axes[0], 'sensitivity', 'sensitivity', '#2ca02c'),
                                  (axes[1], 'false_positives_per_image',
                                   'made-up boxes per image', '#d62728')):
        v = np.array([d['per_reader'][r][key] for r in readers], dtype=float)
        lo, hi = [], []
        for r, val in zip(readers, v):
            iv = (d['per_reader'][r].get('interval') or {}).get(key)
            ok = iv and all(t is not None and np.isfinite(t) for t in iv)
            lo.append(max(val - iv[0], 0) if ok else 0.0)
            hi.append(max(iv[1] - val, 0) if ok else 0.0)
        ax.bar(x, np.nan_to_num(v), color=color, alpha=0.8)
        ax.errorbar(x, np.nan_to_num(v), yerr=[lo, hi], fmt='none', ecolor='black', capsize=3,
                    lw=1)
        ax.set_xticks(x, readers, rotation=45 if n > 6 else 0, fontsize=7)
        ax.set_title(title, fontsize=9)
        if key == 'sensitivity':
            ax.set_ylim(0, 1.05)
    fig.suptitle('Reader rates fitted by calibrated_wbf\'s EM'
                 + (f' (bars: 95 % interval, {d["bootstrap"]["resamples"]} bootstrap resamples)'
                    if d.get('bootstrap') else ''), fontsize=10)
    _save(fig, out_path)


def plot_pair_f1(d: Dict, out_path: str, dpi: int = 110) -> None:
    """Heat map of the pairwise F1 between readers."""
    readers = d['readers']
    n = len(readers)
    f1 = np.array([[np.nan if v is None else v for v in row]
                   for row in d['agreement']['pair_f1']], dtype=float)
    np.fill_diagonal(f1, np.nan)
    side = max(3.8, 1.5 + 0.45 * n)
    fig = _figure(side + 0.8, side, dpi)
    ax = fig.subplots()
    im = ax.imshow(np.ma.masked_invalid(f1), vmin=0, vmax=1, cmap='viridis')
    ax.set_xticks(np.arange(n), readers, rotation=45 if n > 6 else 0, fontsize=7)
    ax.set_yticks(np.arange(n), readers, fontsize=7)
    if n <= 15:
        for i in range(n):
            for j in range(n):
                if i != j and np.isfinite(f1[i, j]):
                    ax.text(j, i, f'{f1[i, j]:.2f}', ha='center', va='center', fontsize=7,
                            color='black' if f1[i, j] > 0.6 else 'white')
    ax.set_title(f'Pairwise F1 (IoU >= {d["iou_thr"]:g}); alpha '
                 f'{d["agreement"]["alpha"]:.3f}', fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    _save(fig, out_path)


__all__ = ['plot_agreement_histogram', 'plot_reader_rates', 'plot_pair_f1']
