"""What one protocol run does, and where it finds its data."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Optional, Sequence

#: experiment configs of each data set, under the shipped configs folder
DATASET_CONFIG_DIRS = {'med_mnist': '', 'vindr_cxr': 'vindr'}
# Paths inside a data root, as make_med_mnist writes them; a scale file may
# override any of them in its `annotations` dict.
DEFAULT_DATA_PATHS = {'train': 'annotations/train_multi_reader.json',
                      'val': 'annotations/val.json', 'test': 'annotations/test.json',
                      'train_images': 'images/train',
                      # the simulator's clean boxes of the training images (truth arm)
                      'train_truth': 'annotations/train.json',
                      # the simulator's settings and readers (generated data only)
                      'readers': 'annotations/readers.json'}


@dataclass
class ProtocolSettings:
    """What one protocol run does (see ``configs/protocol/*.py`` for scales)."""
    scale_file: str
    work_dir: str
    dataset: str = 'med_mnist'
    detector: str = 'yolo'
    data_root: Optional[str] = None
    arms: Optional[Sequence[str]] = None
    seeds: Optional[Sequence[int]] = None
    extra_cfg: Dict = field(default_factory=dict)
    #: merged into the scale's ``data`` (simulator settings: ``preset``,
    #: ``proficiency``, ``seed``...), as a study sweeps them
    data_overrides: Dict = field(default_factory=dict)
