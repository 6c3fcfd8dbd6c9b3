"""Soft class targets through the pipeline: class-split rows, merged at packing.

A fusion method that keeps the readers' class votes (:class:`~mmmulti.fusion.SoftWBF`)
writes each fused box as consecutive *class-split rows*: the same box and agreement
once per class voted, each with confidence ``c * share`` (see
:mod:`mmmulti.fusion.soft_wbf` for why rows and not a side key: the packed
labels of :mod:`.box_weights` have no room for a distribution, and identical
rows survive every box-dropping transform together). Data sets built on such
a method put :data:`CLASS_SPLIT_KEY` in every data info;
:class:`~mmmulti.datasets.transforms.PackMultiReaderInputs` then calls
:func:`merge_class_split_rows` and hands the head one gt box per cluster, with

- ``labels``: the class of the largest share (the majority class),
- ``confidences``: the sum of the rows' confidences (c),
- ``class_share_labels`` / ``class_shares``: (n, K) classes and shares, padded
  with -1 / 0 (K: most classes any box of the image got).

Rows are merged when consecutive with identical box, agreement and ignore flag
(:func:`mmmulti.structures.merge_class_split_rows`, numpy only, so that fusion
summaries count boxes the same way).
"""
from __future__ import annotations

from mmmulti.structures import class_split_groups, merge_class_split_rows  # noqa: F401

#: data-info / results key: True when the boxes are class-split rows
CLASS_SPLIT_KEY = 'mmmulti_class_split'
