"""One concept per module: no module of mmmulti/ grows past 400 lines (issue 27).
A module that needs more holds more than one idea: split it by concept."""
import glob
import os

from conftest import REPO

MAX_LINES = 400


def test_no_module_is_over_400_lines():
    over = {}
    for path in glob.glob(os.path.join(REPO, 'mmmulti', '**', '*.py'), recursive=True):
        with open(path) as f:
            n = sum(1 for _ in f)
        if n > MAX_LINES:
            over[os.path.relpath(path, REPO)] = n
    assert not over, f'modules over {MAX_LINES} lines: {over}'
