"""Multi-reader COCO files: the import path of the reading and writing API.

The parts live in modules of one concept each: :mod:`.reading` (the file and
its kinds), :mod:`.annotations` (annotation records -> boxes), :mod:`.fields`
(checks of single values), :mod:`.drops` (what was left out), :mod:`.parsed`
(:class:`MultiReaderCoco`) and :mod:`.writing` (the fused COCO file). This
module keeps ``mmmulti.io.multi_reader_coco.<name>`` working.
"""
from .drops import DROP_REASONS, DropReport
from .parsed import (CONFIDENCE_KEY, FUSED_READER, LEGACY_CONFIDENCE_KEY,
                     SINGLE_TRUTH_READER, MultiReaderCoco)
from .reading import load_multi_reader_coco
from .writing import dump_fused_coco, fused_to_coco

__all__ = ['load_multi_reader_coco', 'dump_fused_coco', 'fused_to_coco', 'MultiReaderCoco',
           'DropReport', 'DROP_REASONS', 'SINGLE_TRUTH_READER', 'FUSED_READER',
           'CONFIDENCE_KEY', 'LEGACY_CONFIDENCE_KEY']
