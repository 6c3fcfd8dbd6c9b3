"""Utilities that must be in place before any runner starts."""
from .checkpoint import (UnsafeCheckpointError, checkpoint_allowlist,  # noqa: F401
                         register_safe_checkpoint_loader, safe_torch_load)

register_safe_checkpoint_loader()
