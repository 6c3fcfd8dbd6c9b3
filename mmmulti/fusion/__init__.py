"""Truth inference: fuse the readers' boxes of each image (pure numpy).

Every method is registered in ``mmmulti.registry.FUSION_METHODS``::

    FUSION_METHODS.build(dict(type='WBF', iou_thr=0.4))
"""
from .base import BaseFusion, FusedBoxes, ImageReads, agreement_confidence
from .majority_vote import MajorityVote
from .nms import NMS, NMW, SoftNMS
from .reliability import ReliabilityWBF
from .simple import AllBoxes, SingleReader
from .soft_wbf import SoftWBF
from .dawid_skene import DawidSkeneWBF
from .presence import PresenceWBF
from .calibrated import CalibratedWBF
from .wbf import WBF, AllBoxesAgreement
from .registry_names import METHOD_ALIASES, build_fusion

__all__ = ['BaseFusion', 'FusedBoxes', 'ImageReads', 'agreement_confidence', 'WBF',
           'AllBoxes', 'AllBoxesAgreement', 'SingleReader', 'MajorityVote', 'NMS', 'SoftNMS', 'NMW',
           'ReliabilityWBF', 'SoftWBF', 'DawidSkeneWBF', 'PresenceWBF', 'CalibratedWBF',
           'METHOD_ALIASES', 'build_fusion']
