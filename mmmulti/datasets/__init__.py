"""Data sets and pipeline transforms of multi-reader detection."""
from . import transforms  # noqa: F401  (registers the transforms)
