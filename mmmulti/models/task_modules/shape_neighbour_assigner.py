"""YOLOv5-style target assignment: anchor-shape matching plus neighbour cells.

Written from the method's description (YOLOv5 documentation, "build targets"):

* a ground-truth box is matched to an anchor by **shape**, not IoU: the
  anchor is used when neither side of the box is more than ``ratio_thr``
  times larger or smaller than the anchor's;
* the box is the target of the grid cell that holds its centre, and --
  because YOLOv5 decodes a centre as ``2 * sigmoid - 0.5``, so that a cell
  can reach half a cell past its edges -- also of the horizontal and the
  vertical neighbour whose shared edge is within ``neighbour_margin`` cells
  of the centre. Each box thus trains up to three cells per matched anchor.

Unlike mmdet's IoU assigners, one prior (cell x anchor) may be the target of
several boxes, so the result lists positive (box, anchor, cell) triples
rather than one box index per prior.
"""
from __future__ import annotations

import torch
from mmdet.models.task_modules.assigners import BaseAssigner
from mmengine.structures import InstanceData
from torch import Tensor

from mmmulti.registry import TASK_UTILS

# (dx, dy) of the cells a box may train: its own, then left/up/right/down.
_CELL_MOVES = ((0, 0), (-1, 0), (0, -1), (1, 0), (0, 1))


@TASK_UTILS.register_module()
class ShapeNeighbourAssigner(BaseAssigner):
    """Assign boxes to the anchors of one feature level by shape ratio and cell.

    Args:
        ratio_thr: largest allowed ratio between a box side and the anchor's
            (YOLOv5's ``anchor_t``, 4.0).
        neighbour_margin: a neighbour cell is also a target when the box centre
            lies closer than this (in cells) to the edge they share (0.5: the
            nearer horizontal and the nearer vertical neighbour; 0: none).
    """

    def __init__(self, ratio_thr: float = 4.0, neighbour_margin: float = 0.5) -> None:
        if ratio_thr <= 1:
            raise ValueError(f'ShapeNeighbourAssigner: ratio_thr must be > 1, got {ratio_thr}')
        if not 0 <= neighbour_margin <= 0.5:
            raise ValueError('ShapeNeighbourAssigner: neighbour_margin must be in [0, 0.5], '
                             f'got {neighbour_margin}')
        self.ratio_thr = ratio_thr
        self.neighbour_margin = neighbour_margin

    def assign(self, pred_instances: InstanceData, gt_instances: InstanceData,
               gt_instances_ignore: InstanceData | None = None, **kwargs) -> InstanceData:
        """Positive (box, anchor, cell) triples of one level.

        Args:
            pred_instances: the level's priors, in grid units: ``anchors``
                (A, 2) widths and heights; metainfo ``featmap_size`` (H, W).
            gt_instances: boxes of the whole batch in grid units: ``centres``
                (n, 2) and ``sizes`` (n, 2).

        Returns:
            InstanceData with one row per positive: ``gt_inds`` (index into
            ``gt_instances``), ``anchor_inds``, ``rows``, ``cols`` (the target
            cell, inside the map) and ``offsets`` (box centre minus the cell's
            corner, in cells; within (-0.5, 1.5) by construction).
        """
        anchors = pred_instances.anchors
        h, w = pred_instances.metainfo['featmap_size']
        centres, sizes = gt_instances.centres, gt_instances.sizes
        device = anchors.device

        ratio = sizes[:, None, :] / anchors[None]                         # (n, A, 2)
        worst = torch.maximum(ratio, ratio.reciprocal()).amax(-1)          # (n, A)
        gt_inds, anchor_inds = (worst < self.ratio_thr).nonzero(as_tuple=True)

        centre = centres[gt_inds]
        cell = centre.floor()
        frac = centre - cell
        m = self.neighbour_margin
        size = torch.tensor([w, h], device=device, dtype=centre.dtype)
        # which of _CELL_MOVES each matched pair uses: (5, k)
        use = torch.stack([
            torch.ones_like(frac[:, 0], dtype=torch.bool),
            (frac[:, 0] < m) & (cell[:, 0] >= 1),
            (frac[:, 1] < m) & (cell[:, 1] >= 1),
            (frac[:, 0] > 1 - m) & (cell[:, 0] + 1 <= size[0] - 1),
            (frac[:, 1] > 1 - m) & (cell[:, 1] + 1 <= size[1] - 1),
        ])
        moves = torch.tensor(_CELL_MOVES, device=device, dtype=centre.dtype)
        move_i, pair_i = use.nonzero(as_tuple=True)
        target_cell = cell[pair_i] + moves[move_i]
        # a centre on the far border (x == W) belongs to the last cell
        target_cell[:, 0].clamp_(0, w - 1)
        target_cell[:, 1].clamp_(0, h - 1)
        return InstanceData(gt_inds=gt_inds[pair_i], anchor_inds=anchor_inds[pair_i],
                            rows=target_cell[:, 1].long(), cols=target_cell[:, 0].long(),
                            offsets=centre[pair_i] - target_cell)
