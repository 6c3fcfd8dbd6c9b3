"""EARL, the Experts Agreement Re-weighted Loss, for mmdet dense heads.

Configs keep the head they know and name EARL around it::

    bbox_head=dict(type='EARL', head_type='RetinaHead', earl=dict(normalize='mean'), ...)

- :mod:`.options`: the options and each gt box's weight (the paper's Eq. 2);
- :mod:`.weights`: gt weights -> prior weights, the one function every family uses;
- :mod:`.mixin`: what every ``EARL<Head>`` class shares;
- :mod:`.table`: which adapter a head class gets; every family registers itself
  there (``register_earl_adapter``, also a decorator, teaches a new family);
- one module per built-in family, :mod:`.anchor_head`, :mod:`.atss_head`,
  :mod:`.fcos_head`, :mod:`.yolox_head`, :mod:`.gt_weight_hook` (YOLOv5Head),
  all imported by :mod:`.adapters`;
- :mod:`.builder`: the ``EARL<Head>`` classes and ``type='EARL'``.

Imports point one way: builder -> adapters -> families -> table -> mixin ->
options, weights (``tests/test_import_graph.py``).
"""
from .adapters import SUPPORTED, find_earl_adapter, register_earl_adapter
from .builder import build_earl_head, earl_class
from .mixin import EARLHeadMixin
from .options import EARL_TERMS, EARLOptions, gt_earl_weights
from .weights import earl_prior_weights

__all__ = ['EARLOptions', 'EARL_TERMS', 'gt_earl_weights', 'earl_prior_weights',
           'EARLHeadMixin', 'register_earl_adapter', 'find_earl_adapter',
           'SUPPORTED', 'earl_class', 'build_earl_head']
