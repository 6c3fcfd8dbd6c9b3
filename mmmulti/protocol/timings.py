"""Where a protocol run's wall time went, stage by stage.

The run times each stage it does (data, the fused-boxes picture, each arm's
training, test and scoring, the final report), prints a ``stage | seconds``
table at the end and writes it to ``timings.json`` in the work dir, so a slow
run shows which stage to look at, on the machine it ran on.
"""
import time
from contextlib import contextmanager
from typing import Dict, Iterator, List, Tuple

from mmmulti.utils.atomic import dump_json_atomic

#: in the protocol's work dir
TIMINGS_FILE = 'timings.json'


class StageTimes:
    """Wall seconds per stage, in the order the stages ran, and the run's total
    since this object was made."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.stages: List[Tuple[str, float]] = []
        #: parts of the stage before them that ran side by side (arms training at
        #: once): shown under it, not added to the timed sum
        self.parts: List[Tuple[int, str, float]] = []

    def add(self, stage: str, seconds: float) -> None:
        """A stage timed elsewhere (an arm's training subprocess)."""
        self.stages.append((stage, max(0.0, float(seconds))))

    def add_part(self, part: str, seconds: float) -> None:
        """A part of the last stage that overlapped other parts of it."""
        self.parts.append((len(self.stages) - 1, part, max(0.0, float(seconds))))

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the ``with`` block as stage ``name``."""
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - t0)

    def total(self) -> float:
        return time.perf_counter() - self.started

    def to_dict(self) -> Dict:
        total = self.total()
        timed = sum(s for _, s in self.stages)
        stages = []
        for k, (n, sec) in enumerate(self.stages):
            parts = [dict(part=p, seconds=round(ps, 2)) for i, p, ps in self.parts if i == k]
            stages.append(dict(stage=n, seconds=round(sec, 2), **(
                dict(side_by_side=parts) if parts else {})))
        return dict(stages=stages, other_seconds=round(max(0.0, total - timed), 2),
                    total_seconds=round(total, 2))

    def table(self) -> str:
        """``stage | seconds`` lines, then the untimed rest and the total."""
        d = self.to_dict()
        rows = []
        for s in d['stages']:
            rows.append((s['stage'], s['seconds']))
            rows += [(f"  {p['part']} (side by side)", p['seconds'])
                     for p in s.get('side_by_side', [])]
        rows += [('other (between stages)', d['other_seconds']), ('total', d['total_seconds'])]
        width = max(len('stage'), *(len(n) for n, _ in rows))
        lines = [f'{"stage".ljust(width)} | seconds', f'{"-" * width}-|--------']
        lines += [f'{n.ljust(width)} | {s:7.1f}' for n, s in rows]
        return '\n'.join(lines)

    def write(self, path: str) -> None:
        dump_json_atomic(self.to_dict(), path, indent=1)
