"""WBF's grid clustering (issue 28: the quadratic hang) against ensemble_boxes,
exactly: many boxes on one image, ties in score order, IoUs exactly at the
threshold, degenerate boxes, the full-scan fallback, and the progress calls."""
import warnings

import numpy as np
import pytest
from ensemble_boxes import weighted_boxes_fusion as library_wbf

from mmmulti.fusion import WBF, ImageReads
from mmmulti.fusion.clustering import PROGRESS_EVERY
from mmmulti.fusion.weighted_boxes import CONF_TYPES, weighted_boxes_fusion

R = 5


def crowded(seed: int, n: int, lattice: int = 0):
    """n boxes of 3 classes from R sources; ``lattice``: corners on a coarse grid,
    so that scores, boxes and IoUs tie often (and some IoUs equal the threshold)."""
    rng = np.random.default_rng(seed)
    if lattice:
        xy = rng.integers(0, lattice, (n, 2)) / lattice
        wh = rng.integers(1, 4, (n, 2)) / (lattice / 2)
    else:
        xy = rng.random((n, 2)) * 0.95
        wh = rng.random((n, 2)) * 0.05 + 0.002
    boxes = np.clip(np.c_[xy, xy + wh], 0, 1)
    return boxes, np.round(rng.random(n), 1) + 0.05, rng.integers(0, 3, n), rng.integers(0, R, n)


def assert_equals_library(boxes, scores, labels, sources, weights=None, **kw):
    ours = weighted_boxes_fusion(boxes, scores, labels, sources, source_weights=weights,
                                 num_sources=R, **kw)
    per = [sources == t for t in range(R)]
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        b, s, lab = library_wbf([boxes[m] for m in per], [scores[m] for m in per],
                                [labels[m] for m in per], weights=weights, **kw)
    assert len(ours) == len(b)
    np.testing.assert_array_equal(ours.boxes, b)      # exactly, and in the same order
    np.testing.assert_array_equal(ours.scores, s)
    np.testing.assert_array_equal(ours.labels, lab)
    return ours


@pytest.mark.parametrize('lattice', [0, 8, 20])
@pytest.mark.parametrize('iou_thr', [0.0, 0.4, 0.55])
def test_thousands_of_overlapping_boxes_equal_the_library(lattice, iou_thr):
    boxes, scores, labels, sources = crowded(lattice + 1, 3000, lattice)
    weights = [0.5, 1.0, 2.0, 1.0, 1.5] if lattice == 8 else None
    for conf_type in CONF_TYPES:
        out = assert_equals_library(boxes, scores, labels, sources, weights,
                                    iou_thr=iou_thr, conf_type=conf_type)
        assert len(out) < len(boxes)    # the case has merges to get right
        members = np.concatenate(out.members)
        assert sorted(members.tolist()) == list(range(len(boxes)))


def test_ties_in_score_order_follow_the_library():
    """Every box scores 1 (readers' boxes): the order among equal scores decides
    the clusters, and it must be the library's."""
    boxes, _, labels, sources = crowded(11, 2000, lattice=10)
    assert_equals_library(boxes, np.ones(len(boxes)), labels, sources, iou_thr=0.4)


def test_iou_exactly_at_the_threshold_does_not_merge():
    a, b = [0.0, 0.0, 0.5, 1.0], [0.0, 0.0, 0.25, 1.0]        # IoU 0.5 exactly
    boxes = np.array([a, b])
    one = np.ones(2)
    kw = dict(labels=np.zeros(2, int), sources=np.array([0, 1]))
    at = weighted_boxes_fusion(boxes, one, iou_thr=0.5, **kw)
    below = weighted_boxes_fusion(boxes, one, iou_thr=0.4999, **kw)
    assert len(at) == 2 and len(below) == 1
    assert_equals_library(boxes, one, kw['labels'], kw['sources'], iou_thr=0.5)


def test_equal_iou_with_two_clusters_joins_the_first():
    """A box between two clusters at the same IoU joins the one made first."""
    boxes = np.array([[0.0, 0.0, 0.2, 0.2], [0.3, 0.0, 0.5, 0.2], [0.15, 0.0, 0.35, 0.2]])
    scores = np.array([0.9, 0.8, 0.7])
    out = weighted_boxes_fusion(boxes, scores, np.zeros(3, int), np.arange(3), num_sources=R,
                                iou_thr=0.1)
    assert sorted(m.tolist() for m in out.members) == [[0, 2], [1]]
    assert_equals_library(boxes, scores, np.zeros(3, int), np.arange(3), iou_thr=0.1)


def test_degenerate_boxes_are_cleaned_as_the_library_does():
    boxes = np.array([[0.2, 0.2, 0.2, 0.5],      # zero width: dropped
                      [0.5, 0.5, 0.1, 0.1],      # inverted: corners swapped
                      [-0.5, 0.1, 0.3, 1.7],     # outside [0, 1]: clipped
                      [0.1, 0.1, 0.5, 0.5],
                      [1.2, 1.2, 1.5, 1.5]])     # wholly outside: area 0 after clipping
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5])
    out = assert_equals_library(boxes, scores, np.zeros(5, int), np.array([0, 1, 2, 3, 4]),
                                iou_thr=0.3)
    assert sorted(np.concatenate(out.members).tolist()) == [1, 2, 3]


def test_a_huge_box_among_small_ones_uses_the_full_scan():
    """At iou_thr 0 a cluster as wide as the image can match anything: the reach
    covers more cells than there are clusters, and every cluster is compared."""
    boxes, scores, labels, sources = crowded(5, 800)
    boxes = np.r_[[[0.0, 0.0, 1.0, 1.0]], boxes]
    scores, labels, sources = np.r_[1.0, scores], np.r_[0, labels], np.r_[0, sources]
    for thr in (0.0, 0.01):
        assert_equals_library(boxes, scores, labels, sources, iou_thr=thr)


def test_progress_calls_count_every_clustered_box():
    boxes, scores, labels, sources = crowded(2, PROGRESS_EVERY + 123)
    calls = []
    weighted_boxes_fusion(boxes, scores, labels, sources, num_sources=R, iou_thr=0.4,
                          on_progress=calls.append)
    assert sum(calls) == len(boxes) and len(calls) >= 2


def test_one_large_image_shows_a_bar_in_boxes(capsys, monkeypatch):
    boxes, _, labels, sources = crowded(3, 3000)
    readers = [f'R{t}' for t in range(R)]
    reads = ImageReads(boxes * 100, labels, np.array(readers, dtype=object)[sources], readers,
                       100.0, 100.0)
    method = WBF(iou_thr=0.4)
    plain = WBF(iou_thr=0.4, progress=False).fuse_dataset([reads])
    monkeypatch.setattr(WBF, 'progress_min_boxes', 1000)
    fused = method.fuse_dataset([reads])
    err = capsys.readouterr().err
    assert '3000/3000' in err and 'box' in err
    np.testing.assert_array_equal(fused[0].boxes, plain[0].boxes)
