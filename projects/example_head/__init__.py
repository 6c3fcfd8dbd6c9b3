"""An example of a user's own dense head trained with EARL (see README.md).

``custom_imports=dict(imports=['mmmulti', 'projects.example_head'])`` in a
config imports this package, which registers :class:`SharedTowerRetinaHead`
in mmmulti's ``MODELS``, and :class:`MinSizeRetinaHead` with the EARL family
that teaches EARL its own target step (no change inside mmmulti).
"""
from .min_size_head import MinSizeRetinaHead, MinSizeRetinaHeadEARL
from .shared_tower_head import SharedTowerRetinaHead

__all__ = ['SharedTowerRetinaHead', 'MinSizeRetinaHead', 'MinSizeRetinaHeadEARL']
