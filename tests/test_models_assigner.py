"""ShapeNeighbourAssigner on hand-made boxes: shape matching, neighbour cells, borders."""
import pytest
import torch
from mmengine.structures import InstanceData

from mmmulti.models.task_modules import ShapeNeighbourAssigner
from mmmulti.registry import TASK_UTILS


def assign(centres, sizes, anchors=((1.0, 1.0), (4.0, 1.0)), featmap=(8, 8), **kw):
    priors = InstanceData(metainfo=dict(featmap_size=featmap),
                          anchors=torch.tensor(anchors, dtype=torch.float32))
    gts = InstanceData(centres=torch.as_tensor(centres, dtype=torch.float32).reshape(-1, 2),
                       sizes=torch.as_tensor(sizes, dtype=torch.float32).reshape(-1, 2))
    return ShapeNeighbourAssigner(**kw).assign(priors, gts)


def triples(res):
    return sorted(zip(res.gt_inds.tolist(), res.anchor_inds.tolist(), res.rows.tolist(),
                      res.cols.tolist()))


def test_registered_in_task_utils():
    a = TASK_UTILS.build(dict(type='ShapeNeighbourAssigner', ratio_thr=3.0))
    assert isinstance(a, ShapeNeighbourAssigner) and a.ratio_thr == 3.0


def test_shape_ratio_selects_anchors():
    # a 2 x 1 box: ratio 2 to the square anchor and 2 to the 4 x 1 anchor -> both;
    # with ratio_thr 1.5 neither
    res = assign([[3.5, 3.5]], [[2.0, 1.0]], neighbour_margin=0.0)
    assert triples(res) == [(0, 0, 3, 3), (0, 1, 3, 3)]
    assert len(assign([[3.5, 3.5]], [[2.0, 1.0]], ratio_thr=1.5).gt_inds) == 0
    # an 8 x 1 box is 8x the square anchor's width: only the 4 x 1 anchor
    assert {a for _, a, _, _ in triples(assign([[3.5, 3.5]], [[8.0, 1.0]]))} == {1}


@pytest.mark.parametrize('centre, cells', [
    ((2.3, 5.2), {(5, 2), (5, 1), (4, 2)}),   # near left and top edges
    ((2.7, 5.8), {(5, 2), (5, 3), (6, 2)}),   # near right and bottom edges
    ((2.5, 5.5), {(5, 2)}),                   # exactly central: no neighbour
])
def test_neighbour_cells_follow_the_nearest_edges(centre, cells):
    res = assign([centre], [[1.0, 1.0]], anchors=((1.0, 1.0), ))
    assert {(r, c) for _, _, r, c in triples(res)} == cells
    # offsets are the centre relative to each target cell, within (-0.5, 1.5)
    expect = torch.tensor(centre) - torch.stack([res.cols, res.rows], 1).float()
    assert torch.allclose(res.offsets, expect)
    assert (res.offsets > -0.5).all() and (res.offsets < 1.5).all()


def test_no_neighbour_outside_the_map_and_border_centre_clamped():
    # centre in the first cell near the top-left corner: no cells at -1
    res = assign([[0.2, 0.2]], [[1.0, 1.0]], anchors=((1.0, 1.0), ))
    assert triples(res) == [(0, 0, 0, 0)]
    # centre exactly on the far border belongs to the last cell
    res = assign([[8.0, 8.0]], [[1.0, 1.0]], anchors=((1.0, 1.0), ))
    assert (0, 0, 7, 7) in triples(res)
    assert (res.rows <= 7).all() and (res.cols <= 7).all()


def test_empty_and_margin_zero():
    res = assign(torch.zeros(0, 2), torch.zeros(0, 2))
    assert len(res.gt_inds) == 0 and res.offsets.shape == (0, 2)
    res = assign([[2.3, 5.2], [6.6, 1.1]], [[1.0, 1.0], [1.0, 1.0]], anchors=((1.0, 1.0), ),
                 neighbour_margin=0.0)
    assert triples(res) == [(0, 0, 5, 2), (1, 0, 1, 6)]


@pytest.mark.parametrize('kw', [dict(ratio_thr=1.0), dict(neighbour_margin=0.7)])
def test_bad_settings_raise(kw):
    with pytest.raises(ValueError, match='ShapeNeighbourAssigner'):
        ShapeNeighbourAssigner(**kw)
