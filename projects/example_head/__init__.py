"""An example of a user's own dense head trained with EARL (see README.md).

``custom_imports=dict(imports=['mmmulti', 'projects.example_head'])`` in a
config imports this package, which registers :class:`SharedTowerRetinaHead`
in mmmulti's ``MODELS``.
"""
from .shared_tower_head import SharedTowerRetinaHead

__all__ = ['SharedTowerRetinaHead']
