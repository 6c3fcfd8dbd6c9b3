"""EARL, the Experts Agreement Re-weighted Loss, for mmdet dense heads.

Configs keep the head they know and name EARL around it::

    bbox_head=dict(type='EARL', head_type='RetinaHead', earl=dict(normalize='mean'), ...)

- :mod:`.options`: the options and each gt box's weight (the paper's Eq. 2);
- :mod:`.weights`: gt weights -> prior weights, the one function every family uses;
- :mod:`.mixin`: what every ``EARL<Head>`` class shares;
- :mod:`.adapters`: one adapter per head family (AnchorHead, ATSS, FCOS, YOLOX,
  heads with a ``get_gt_weights`` hook such as YOLOv5Head) and how a head class
  finds its adapter (``register_earl_adapter`` teaches a new family);
- :mod:`.builder`: the ``EARL<Head>`` classes and ``type='EARL'``.
"""
from .adapters import SUPPORTED, find_earl_adapter, register_earl_adapter
from .builder import build_earl_head, earl_class
from .mixin import EARLHeadMixin
from .options import EARL_TERMS, EARLOptions, gt_earl_weights
from .weights import earl_prior_weights

__all__ = ['EARLOptions', 'EARL_TERMS', 'gt_earl_weights', 'earl_prior_weights',
           'EARLHeadMixin', 'register_earl_adapter', 'find_earl_adapter',
           'SUPPORTED', 'earl_class', 'build_earl_head']
