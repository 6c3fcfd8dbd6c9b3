"""Target assignment for the detectors of this package (``TASK_UTILS``)."""
from .shape_neighbour_assigner import ShapeNeighbourAssigner

__all__ = ['ShapeNeighbourAssigner']
