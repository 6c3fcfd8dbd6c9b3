"""Train a detector from an MMEngine config (mmdet's flags): ``mmmulti.cli.train``."""
import sys

from mmmulti.cli.train import main

if __name__ == '__main__':
    sys.exit(main())  # main is wrapped by mmmulti.utils.cli_errors.cli_entry
