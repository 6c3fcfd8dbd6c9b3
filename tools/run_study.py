"""Run the protocol over reader presets and proficiencies (a study); see
mmmulti/protocol/study.py.

    python tools/run_study.py --scale study
    python tools/run_study.py --scale quick --presets vindr_like mixed --proficiencies 0.6 0.8
"""
import sys

from mmmulti.protocol.study import main
from mmmulti.utils.cli_errors import cli_entry

# the protocol's parser has no --debug; the wrapper takes the flag off

if __name__ == '__main__':
    sys.exit(cli_entry(main, strip_debug=True)())
