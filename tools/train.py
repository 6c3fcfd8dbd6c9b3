"""Train a detector from an MMEngine config (mmdet's flags): ``mmmulti.cli.train``."""
from mmmulti.cli.train import main

if __name__ == '__main__':
    main()
