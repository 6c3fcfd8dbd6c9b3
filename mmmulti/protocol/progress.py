"""A live progress line for an arm that trains in a subprocess.

The protocol runs the training entry point (``tools/train.py``) as a user would, so the only view into
a run is its log. mmengine's logger already prints the epoch, iteration and
ETA (``Epoch(train) [4][30/50] ... eta: 0:08:52``) and every validation
(``Epoch(val) [5][5/5] coco/map_40: 0.81 ...``); this reads those lines and
keeps one status line up to date: rewritten in place on a terminal, printed
every ``interval`` seconds (and at each validation) when the output is a file.
"""
from __future__ import annotations

import re
import sys
import time
from typing import IO, Optional

_TRAIN = re.compile(r'Epoch\(train\)\s+\[(\d+)\]\[\s*(\d+)/(\d+)\].*?eta: (\S+)')
_VAL = re.compile(r'Epoch\(val\)\s+\[(\d+)\].*?coco/map_40: ([-\d.]+)'
                  r'(?:.*?coco/map_50_95: ([-\d.]+))?')


class TrainProgress:
    """Feed it the training log line by line; it shows where the run is."""

    def __init__(self, label: str, max_epochs: Optional[int] = None,
                 stream: Optional[IO] = None, interval: float = 30.0,
                 live: bool = True) -> None:
        self.label = label
        self.max_epochs = max_epochs
        self.stream = stream or sys.stdout
        # in place only on a terminal, and only as the one line there (``live=False``
        # for arms training side by side: their lines would overwrite each other)
        self.live = live and bool(getattr(self.stream, 'isatty', lambda: False)())
        self.interval = interval
        self.epoch = self.iter = self.iters = 0
        self.eta = '?'
        self.val: Optional[str] = None
        self._last_print = 0.0
        self._width = 0

    def status(self) -> str:
        """The current line, e.g. ``seed 0 baseline | epoch 4/30 iter 30/50 |
        ETA 0:08:52 | val mAP@0.4 0.812 (epoch 5)``."""
        of = f'/{self.max_epochs}' if self.max_epochs else ''
        parts = [self.label]
        if self.epoch:
            parts.append(f'epoch {self.epoch}{of} iter {self.iter}/{self.iters}')
            parts.append(f'ETA {self.eta}')
        else:
            parts.append('starting')
        if self.val:
            parts.append(self.val)
        return ' | '.join(parts)

    def feed(self, line: str) -> None:
        m = _TRAIN.search(line)
        new_val = False
        if m:
            self.epoch, self.iter, self.iters = (int(m.group(i)) for i in (1, 2, 3))
            self.eta = m.group(4)
        else:
            m = _VAL.search(line)
            if m:
                extra = f' / mAP[.5:.95] {float(m.group(3)):.3f}' if m.group(3) else ''
                self.val = (f'val mAP@0.4 {float(m.group(2)):.3f}{extra} '
                            f'(epoch {int(m.group(1))})')
                new_val = True
        if not (m or new_val):
            return
        now = time.monotonic()
        if self.live:
            text = f'[progress] {self.status()}'
            self.stream.write('\r' + text.ljust(self._width))
            self._width = len(text)
            self.stream.flush()
        elif new_val or now - self._last_print >= self.interval:
            self.stream.write(f'[progress {time.strftime("%H:%M:%S")}] {self.status()}\n')
            self.stream.flush()
            self._last_print = now

    def close(self) -> None:
        """End the live line so the next message starts on its own line."""
        if self.live and self._width:
            self.stream.write('\n')
            self.stream.flush()
            self._width = 0
