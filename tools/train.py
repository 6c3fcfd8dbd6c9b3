"""Train a detector from an MMEngine config (mmdet's flags): ``mmmulti.cli.train``."""
import sys

from mmmulti.cli.train import main
from mmmulti.utils.cli_errors import cli_entry

if __name__ == '__main__':
    sys.exit(cli_entry(main)())
