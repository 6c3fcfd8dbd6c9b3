"""Utilities that must be in place before any runner starts."""
from .checkpoint import (UnsafeCheckpointError, checkpoint_allowlist,  # noqa: F401
                         register_safe_checkpoint_loader, safe_torch_load)
from .safe_pickle import UnsafePickleError, load_prediction_pickle  # noqa: F401

register_safe_checkpoint_loader()
