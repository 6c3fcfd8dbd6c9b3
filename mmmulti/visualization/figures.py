"""Whole figures written to PNG: reader agreement, readers' boxes vs fused boxes.

Built on ``matplotlib.figure.Figure`` with the Agg canvas, so they work on a
headless machine and never switch the global pyplot backend.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from mmmulti.utils.atomic import atomic_path

from .boxes import draw_fused_boxes, draw_reader_boxes, reader_colors


def _new_figure(width: float, height: float, dpi: int):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else ('es' if word.endswith('x') else 's')}"


def plot_reader_agreement(report, out_path: str, dpi: int = 120) -> None:
    """Bar chart (precision / recall / mean IoU per reader) + pairwise F1 heat map."""
    readers = report.readers
    n = len(readers)
    fig = _new_figure(max(9.0, 4.0 + 1.1 * n), 4.2, dpi)
    ax_bar, ax_map = fig.subplots(1, 2, gridspec_kw=dict(width_ratios=[1.3, 1]))

    metrics = [('precision', '#1f77b4', 'precision'), ('recall', '#ff7f0e', 'recall'),
               ('mean_iou', '#2ca02c', 'mean IoU of matches')]
    x = np.arange(n)
    width = 0.8 / len(metrics)
    for k, (name, color, legend) in enumerate(metrics):
        vals = np.array([getattr(s, name) for s in report.per_reader], dtype=float)
        bars = ax_bar.bar(x + (k - 1) * width, np.nan_to_num(vals), width,
                          label=legend, color=color)
        for b, v in zip(bars, vals):
            if n <= 12:
                ax_bar.text(b.get_x() + b.get_width() / 2, b.get_height() + 0.01,
                            '-' if np.isnan(v) else f'{v:.2f}', ha='center', va='bottom',
                            fontsize=7, rotation=90 if n > 6 else 0)
    ax_bar.set_xticks(x, readers, rotation=45 if n > 6 else 0)
    ax_bar.set_ylim(0, 1.18)
    ax_bar.set_ylabel('vs fused consensus')
    ax_bar.set_title(f'Readers vs consensus ({report.method}; match IoU >= {report.iou_thr}, '
                     f'agreement >= {report.min_agreement})', fontsize=9)
    ax_bar.legend(loc='upper center', ncol=3, fontsize=8, frameon=False)

    f1 = np.ma.masked_invalid(report.pair_f1)
    im = ax_map.imshow(f1, vmin=0, vmax=1, cmap='viridis')
    ax_map.set_xticks(x, readers, rotation=45 if n > 6 else 0)
    ax_map.set_yticks(x, readers)
    if n <= 15:
        for i in range(n):
            for j in range(n):
                v = report.pair_f1[i, j]
                ax_map.text(j, i, '-' if np.isnan(v) else f'{v:.2f}', ha='center',
                            va='center', fontsize=8,
                            color='black' if (not np.isnan(v) and v > 0.6) else 'white')
    ax_map.set_title(f'Pairwise F1 between readers (IoU >= {report.iou_thr})', fontsize=9)
    fig.colorbar(im, ax=ax_map, fraction=0.046, pad=0.04)
    fig.tight_layout()
    with atomic_path(out_path) as tmp:
        fig.savefig(tmp)


def plot_fusion_comparison(items: Sequence[dict], out_path: str,
                           class_names: Optional[Sequence[str]] = None,
                           readers: Optional[Sequence[str]] = None,
                           title: str = '', panel_size: float = 4.5, dpi: int = 120) -> None:
    """One row per image: readers' boxes (left) and fused boxes with confidence (right).

    ``items``: dicts with ``image`` (H, W[, 3] array), ``reads`` (ImageReads),
    ``fused`` (FusedBoxes) and ``name`` (panel title).
    """
    if not items:
        raise ValueError('no image to draw')
    if readers is None:
        readers = sorted({r for it in items for r in it['reads'].image_readers})
    colors = reader_colors(readers)
    fig = _new_figure(2 * panel_size, panel_size * len(items), dpi)
    axes = np.array(fig.subplots(len(items), 2, squeeze=False))
    for row, it in zip(axes, items):
        reads, fused = it['reads'], it['fused']
        for ax in row:
            ax.imshow(it['image'], cmap='gray', vmin=0, vmax=255)
            ax.set_axis_off()
        draw_reader_boxes(row[0], reads, colors, class_names)
        row[0].set_title(f"{it['name']}: {_plural(len(reads), 'box')} from "
                         f"{_plural(reads.num_readers, 'reader')}", fontsize=9)
        draw_fused_boxes(row[1], fused, class_names, num_readers=reads.num_readers)
        row[1].set_title(f"{it['name']}: {_plural(len(fused), 'fused box')}", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    with atomic_path(out_path) as tmp:
        fig.savefig(tmp)
