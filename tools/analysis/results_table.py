"""Write the results tables of docs/results/README.md (and the README's marked
blocks) from the committed results.csv files, or check that they are current.

    python tools/analysis/results_table.py docs/results --write-readme README.md
    python tools/analysis/results_table.py docs/results --write-readme README.md --check

``--check`` writes nothing and exits 1 when a committed file differs from what
the command would write (:mod:`mmmulti.protocol.results_table`).
"""
import argparse
import sys
from typing import List, Optional

from mmmulti.protocol.results_table import render, stale
from mmmulti.utils.atomic import atomic_write
from mmmulti.utils.cli_errors import add_debug_flag, cli_entry
from mmmulti.utils.output_guard import check_output_file


@cli_entry
def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('results_dir', help='the results folder (docs/results)')
    p.add_argument('--write-readme', metavar='README',
                   help='also replace the marked results and quick-start blocks of this file')
    p.add_argument('--check', action='store_true',
                   help='write nothing; exit 1 if a file differs from what would be written')
    add_debug_flag(p)
    args = p.parse_args(argv)
    if args.write_readme:  # read before it is written: a FIFO would block the read
        check_output_file(args.write_readme, overwrite=True)
    files = render(args.results_dir, args.write_readme)
    if args.check:
        differ = stale(files)
        for path in differ:
            print(f'{path}: not what tools/analysis/results_table.py writes (re-run it)')
        return 1 if differ else 0
    for path in files:  # rewritten in place by design; special files still refused
        check_output_file(path, overwrite=True)
    for path, text in files.items():
        with atomic_write(path) as f:
            f.write(text)
        print(f'wrote {path}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
