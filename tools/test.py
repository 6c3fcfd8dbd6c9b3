"""Evaluate a checkpoint on a config's test set (mmdet's flags): ``mmmulti.cli.test``."""
import sys

from mmmulti.cli.test import main

if __name__ == '__main__':
    sys.exit(main())  # main is wrapped by mmmulti.utils.cli_errors.cli_entry
