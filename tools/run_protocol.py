"""Run the paper's comparison (arms x seeds) on MED-MNIST or VinDr-CXR.

Examples:
    python tools/run_protocol.py --scale quick        # the README quick start
    python tools/run_protocol.py --scale mini --seeds 0 1 2
    python tools/run_protocol.py --scale paper        # GPU

The same as ``python -m mmmulti.protocol`` (:mod:`mmmulti.protocol.cli`).
"""
import sys

from mmmulti.protocol.cli import main
from mmmulti.utils.cli_errors import cli_entry

# the protocol's parser has no --debug; the wrapper takes the flag off

if __name__ == '__main__':
    sys.exit(cli_entry(main, strip_debug=True)())
