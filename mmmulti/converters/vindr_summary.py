"""What a VinDr-CXR conversion kept and dropped, and its printed report.

Every row or box the converter does not keep is counted here, so that the
summary the tool prints accounts for the whole CSV.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field


def reader_sort_key(reader: str) -> list:
    """Natural order of reader ids: R2 < R8 < R10."""
    return [int(t) if t.isdigit() else t for t in re.split(r'(\d+)', reader)]


@dataclass
class ConversionSummary:
    """What a conversion kept and dropped; ``format()`` gives the printed report."""

    csv_path: str
    rows: int = 0
    images: int = 0
    boxes: int = 0
    reader_images: Counter = field(default_factory=Counter)
    no_finding_reads: int = 0
    rows_other_readers: int = 0
    images_without_selected_readers: int = 0
    images_missing_required_readers: int = 0
    dropped_zero_area: int = 0
    #: boxes are written to 0.01 px: a thinner one would be written with zero area
    dropped_below_resolution: int = 0
    dropped_outside: int = 0
    clipped: int = 0
    dropped_unknown_class: int = 0
    no_finding_coords_ignored: int = 0
    rescaled_to_file: int = 0
    pngs_written: int = 0
    pngs_kept: int = 0
    duplicate_rows: int = 0
    duplicate_examples: list = field(default_factory=list)
    no_finding_and_box: int = 0
    no_finding_and_box_examples: list = field(default_factory=list)
    bad_images: list = field(default_factory=list)   # (file, reason) skipped

    def format(self) -> str:
        readers = ', '.join(f'{r}: {n}' for r, n in sorted(self.reader_images.items(),
                                                        key=lambda t: reader_sort_key(t[0])))
        lines = [
            f'{self.csv_path}: {self.rows} rows',
            f'  images:            {self.images}',
            f'  readers:           {len(self.reader_images)} ({readers})' if readers
            else '  readers:           none (consensus truth)',
            f'  boxes:             {self.boxes}',
            f'  no-finding reads:  {self.no_finding_reads} (reader read the image, drew no box)',
        ]
        drops = [
            ('rows of readers not selected', self.rows_other_readers),
            ('images without a selected reader', self.images_without_selected_readers),
            ('images lacking a required reader', self.images_missing_required_readers),
            ('boxes of zero area', self.dropped_zero_area),
            ('boxes under 0.01 px wide or high (zero area once written)',
             self.dropped_below_resolution),
            ('boxes outside the image', self.dropped_outside),
            ('rows of unknown classes', self.dropped_unknown_class),
            ('duplicate rows', self.duplicate_rows),
            ('images whose file cannot be read (--skip-bad)', len(self.bad_images)),
        ]
        lines.append('  dropped:           ' + (', '.join(
            f'{n} {what}' for what, n in drops if n) or 'nothing'))
        notes = [
            ('boxes clipped to the image', self.clipped),
            ('No finding rows with coordinates (ignored)', self.no_finding_coords_ignored),
            ('images whose boxes were rescaled to the image file size', self.rescaled_to_file),
            ('PNG files written', self.pngs_written),
            ('PNG files kept from an earlier run (not decoded again)', self.pngs_kept),
            ('readers who gave both "No finding" and a box on one image (boxes kept)',
             self.no_finding_and_box),
        ]
        for what, n in notes:
            if n:
                lines.append(f'  {what}: {n}')
        if self.no_finding_and_box_examples:
            lines.append('    e.g. ' + '; '.join(self.no_finding_and_box_examples[:3]))
        if self.duplicate_examples:
            lines.append('  duplicate rows, e.g. ' + '; '.join(self.duplicate_examples[:3]))
        for path, why in self.bad_images:
            lines.append(f'  skipped (cannot read): {path}: {why}')
        return '\n'.join(lines)


__all__ = ['ConversionSummary', 'reader_sort_key']
