"""Evaluate a checkpoint on a config's test set (mmdet's flags): ``mmmulti.cli.test``."""
from mmmulti.cli.test import main

if __name__ == '__main__':
    main()
