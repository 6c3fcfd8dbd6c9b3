"""Reliability diagrams of held-out-reader validation (matplotlib, Agg, imported lazily)."""
from __future__ import annotations

from typing import Dict

from mmmulti.utils.atomic import atomic_path


def plot_reliability(report: Dict, out_path: str, dpi: int = 120) -> None:
    """One panel per method: observed confirmation by the held-out reader
    against the prediction (its confidence, or its predicted confirmation),
    marker area by box count; with truth, P(real) against confidence too."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    methods = report['methods']
    n = max(len(methods), 1)
    fig = Figure(figsize=(3.6 * n, 3.9), dpi=dpi)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, n, squeeze=False)[0]
    for ax, (label, m) in zip(axes, methods.items()):
        ax.plot([0, 1], [0, 1], color='0.6', lw=1, ls='--', label='perfectly calibrated')
        bins = m['reliability']
        if bins:
            total = max(b['boxes'] for b in bins)
            ax.plot([b['predicted'] for b in bins], [b['observed'] for b in bins], '-',
                    color='#1f77b4', lw=1)
            ax.scatter([b['predicted'] for b in bins], [b['observed'] for b in bins],
                       s=[15 + 150 * b['boxes'] / total for b in bins], color='#1f77b4',
                       label='held-out confirmation', zorder=3)
            if 'truth_precision' in bins[0]:
                ax.scatter([b['confidence'] for b in bins], [b['truth_precision'] for b in bins],
                           s=[15 + 150 * b['boxes'] / total for b in bins], marker='s',
                           facecolor='none', edgecolor='#d62728', label='real (simulator truth)',
                           zorder=3)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.set_title(f'{label}\nECE {m["ece"]:.3f}, AUC {m["auc"]:.3f}', fontsize=9)
        ax.set_xlabel('predicted (' + ('confirmation' if m['scored_on'] != 'confidence'
                                       else 'confidence') + ')', fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0].set_ylabel('observed rate', fontsize=8)
    axes[0].legend(fontsize=7, loc='upper left')
    fig.suptitle(f'Held-out-reader reliability ({report["images"]} images, '
                 f'IoU {report["iou_thr"]:g})', fontsize=10)
    fig.tight_layout()
    with atomic_path(out_path) as tmp:
        fig.savefig(tmp, format='png')
