"""The built-in EARL head families, one module each; importing this module
registers them all in :mod:`.table`.

Each adapter is a mixin placed before the head class in ``EARL<Head>``. It
(a) finds the gt of every positive prior where the head already assigns, by
overriding ``_get_targets_single`` and calling ``super()`` (no assignment is
computed twice), (b) turns the batch's gt weights into per-prior weights
(``EARLHeadMixin.earl_finalize``, where ``normalize='mean'`` is exact because
every weight is known before any loss), and (c) applies them:

=================  ===========================  ==============================
family             positive prior -> gt          where the weights go
=================  ===========================  ==============================
AnchorHead         ``sampling_result``           cls: ``label_weights``;
(RetinaHead, ...)  (pos_inds sorted onto the     box: ``bbox_weights``
                   fg labels, so inside/unmap    (after ``get_targets``)
                   indexing cannot misalign)
ATSSHead           as AnchorHead                 cls: ``label_weights``;
                                                 box / obj: its own
                                                 ``loss_by_feat_single`` (box
                                                 weight = centerness x w;
                                                 centerness loss weight w)
FCOSHead           read back from the            its own ``loss_by_feat``: cls
                   regression target of each     (all points), box and
                   positive point (point -/+     centerness (positive points)
                   (l, t, r, b) = its gt box)
YOLOXHead          read back from SimOTA's box   its own ``loss_by_feat``: obj
                   target (a copy of the gt      (all priors), cls, box, L1
                   box; the class on ties)       (positive priors)
YOLOv5Head         the head's own hook           ``get_gt_weights`` +
                                                 ``earl_terms/earl_normalize``
=================  ===========================  ==============================

(modules :mod:`.anchor_head`, :mod:`.atss_head`, :mod:`.fcos_head`,
:mod:`.yolox_head`, :mod:`.gt_weight_hook`; a new family is a module of the
same shape anywhere, e.g. in a user's project: an adapter class decorated with
``@register_earl_adapter(HeadClass)``.)

The ATSS, FCOS and YOLOX loss overrides compute what mmdet 3.3's methods of
the same name compute, with the weights passed as ``weight=`` to the same
loss modules; no module of the head is replaced. With every weight 1 the
losses equal the plain head's bit for bit (``tests/test_earl.py``), so a
change of those methods upstream shows there first.
"""
from .anchor_head import AnchorHeadEARL
from .atss_head import ATSSHeadEARL
from .fcos_head import FCOSHeadEARL
from .gt_weight_hook import GtWeightHookEARL
from .table import find_earl_adapter, register_earl_adapter, supported
from .yolox_head import YOLOXHeadEARL

#: what the built-in families support, in the order they are tried
SUPPORTED = supported()

__all__ = ['AnchorHeadEARL', 'ATSSHeadEARL', 'FCOSHeadEARL', 'YOLOXHeadEARL',
           'GtWeightHookEARL', 'SUPPORTED', 'find_earl_adapter', 'register_earl_adapter']
