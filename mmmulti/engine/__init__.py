"""Runner glue: CPU/CUDA distributed launch and the tools' config handling."""
from .hooks import FiniteLossHook, NonFiniteLossError  # noqa: F401
from .host_memory import KeepFreedMemoryHook, keep_freed_memory  # noqa: F401
from .memory_format import ChannelsLastHook  # noqa: F401
from .optimizers import DecayGroupsOptimWrapperConstructor, decay_groups  # noqa: F401
from .launch import setup_distributed, shutdown_distributed  # noqa: F401
from .runners import CheckpointMismatchError, StrictLoadRunner  # noqa: F401
from .runner_setup import (check_data_roots, load_config,  # noqa: F401
                           prepare_test_cfg, prepare_train_cfg)
