"""Evaluate a checkpoint on a config's test set (mmdet's flags): ``mmmulti.cli.test``."""
import sys

from mmmulti.cli.test import main
from mmmulti.utils.cli_errors import cli_entry

if __name__ == '__main__':
    sys.exit(cli_entry(main)())
