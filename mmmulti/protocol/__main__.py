"""``python -m mmmulti.protocol --scale quick``: see :mod:`mmmulti.protocol.cli`."""
from .cli import main

main()
