"""Run the paper's comparison (arms x seeds) on MED-MNIST or VinDr-CXR.

Examples:
    python tools/run_protocol.py --scale quick        # the README quick start
    python tools/run_protocol.py --scale mini --seeds 0 1 2
    python tools/run_protocol.py --scale paper        # GPU

The same as ``python -m mmmulti.protocol`` (:mod:`mmmulti.protocol.cli`).
"""
from mmmulti.protocol.cli import main

if __name__ == '__main__':
    main()
