"""Drawing readers' boxes and fused boxes on a matplotlib Axes.

Only Axes methods are used, so no pyplot state or backend is touched here.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

#: tab10 without grey (index 7), which vanishes on radiographs.
_PALETTE = ('#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b',
            '#e377c2', '#bcbd22', '#17becf')


def reader_colors(readers: Sequence[str]) -> dict:
    """A fixed colour per reader id (same reader, same colour in every panel)."""
    return {r: _PALETTE[k % len(_PALETTE)] for k, r in enumerate(readers)}


def _class_name(class_names: Optional[Sequence[str]], label: int) -> str:
    if class_names is not None and 0 <= label < len(class_names):
        return str(class_names[label])
    return str(label)


def _rect(ax, box, color, lw=1.5, ls='-'):
    from matplotlib.patches import Rectangle
    x1, y1, x2, y2 = (float(v) for v in box)
    ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor=color,
                           linewidth=lw, linestyle=ls))


class _LabelPlacer:
    """Puts box captions at a free corner so captions of overlapping boxes don't collide.

    Tries above-left, below-left, above-right, below-right of the box and takes
    the first whose anchor is not too close to an earlier caption's.
    """

    def __init__(self, ax, fontsize: float) -> None:
        self.ax = ax
        self.fontsize = fontsize
        x0, x1 = ax.get_xlim()
        y0, y1 = ax.get_ylim()
        self.min_dx = 0.14 * abs(x1 - x0)
        self.min_dy = 0.045 * abs(y1 - y0)
        self.placed: list = []

    def add(self, box, text: str, color, first_corner: int = 0) -> None:
        x1, y1, x2, y2 = (float(v) for v in box)
        # (x, y, horizontal alignment, vertical alignment); image y grows downwards
        corners = [(x1, y1, 'left', 'bottom'), (x1, y2, 'left', 'top'),
                   (x2, y1, 'right', 'bottom'), (x2, y2, 'right', 'top')]
        corners = corners[first_corner % 4:] + corners[:first_corner % 4]
        choice = corners[0]
        for c in corners:
            if all(abs(c[0] - px) > self.min_dx or abs(c[1] - py) > self.min_dy
                   for px, py in self.placed):
                choice = c
                break
        x, y, ha, va = choice
        self.placed.append((x, y))
        self.ax.text(x, y, text, color='white', fontsize=self.fontsize, ha=ha, va=va,
                     bbox=dict(facecolor=color, alpha=0.8, pad=1, edgecolor='none'),
                     clip_on=True)


def draw_reader_boxes(ax, reads, colors: dict, class_names: Optional[Sequence[str]] = None,
                      show_labels: bool = True, fontsize: float = 6) -> None:
    """Each reader's boxes (``ImageReads``) in that reader's colour, with a legend.

    The legend lists every reader of the image; one who drew nothing is marked
    "(no box)" — an absent vote, not a missing reader.
    """
    from matplotlib.lines import Line2D
    placer = _LabelPlacer(ax, fontsize)
    order = {r: k for k, r in enumerate(reads.image_readers)}
    for box, label, reader in zip(reads.boxes, reads.labels, reads.readers):
        color = colors.get(reader, 'white')
        _rect(ax, box, color)
        if show_labels:
            placer.add(box, _class_name(class_names, int(label)), color,
                       first_corner=order.get(reader, 0))
    counts = {r: int(np.sum(reads.readers == r)) for r in reads.image_readers}
    handles = [Line2D([0], [0], color=colors.get(r, 'white'), lw=2,
                      label=f'{r} ({n} box{"es" if n != 1 else ""})' if n else f'{r} (no box)')
               for r, n in counts.items()]
    if handles:
        ax.legend(handles=handles, loc='upper right', fontsize=fontsize + 1, framealpha=0.8)


def draw_fused_boxes(ax, fused, class_names: Optional[Sequence[str]] = None,
                     num_readers: Optional[int] = None, fontsize: float = 6,
                     cmap: str = 'autumn') -> None:
    """Fused boxes (``FusedBoxes``) coloured by confidence, labelled "class c=0.67"."""
    import matplotlib
    colormap = matplotlib.colormaps[cmap]
    placer = _LabelPlacer(ax, fontsize)
    for k in np.argsort(-fused.confidences, kind='stable'):  # most agreed first, best corner
        box, label, score, agree = (fused.boxes[k], fused.labels[k], fused.confidences[k],
                                    fused.agreement[k])
        color = colormap(float(1.0 - score) * 0.8)  # c = 1: red ... low c: orange/yellow
        _rect(ax, box, color, lw=1.0 + 1.5 * float(score))
        votes = f' ({int(agree)}/{num_readers})' if num_readers else ''
        placer.add(box, f'{_class_name(class_names, int(label))} c={float(score):.2f}{votes}',
                   color)
