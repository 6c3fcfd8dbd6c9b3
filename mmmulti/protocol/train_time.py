"""How long an arm trained, kept with the arm so a later run that reuses its
predictions reports the training time, not the seconds the reuse took.

A fresh arm records the wall time of its training process in
``train_time.json`` in its work dir. An arm trained before that file existed
gets the span of mmengine's own training log (``<work_dir>/<timestamp>/
<timestamp>.log``: the first to the last line of the latest run that logged
training iterations, to the second). Neither there: unknown, ``None``, written
blank in ``results.csv`` (never a guess).
"""
import json
import os
import os.path as osp
import re
from datetime import datetime
from typing import Optional

from mmmulti.io.fields import is_number
from mmmulti.utils.atomic import dump_json_atomic

#: in each trained arm's work dir
TRAIN_TIME_FILE = 'train_time.json'
#: mmengine's file log: ``2026/12/05 16:21:41 - mmengine - INFO - ...``
_STAMP = re.compile(r'^(\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}) - ')
#: a run directory mmengine names by its start time
_RUN_DIR = re.compile(r'^\d{8}_\d{6}$')


def record_train_seconds(work_dir: str, seconds: float) -> None:
    """Keep the wall time of the arm's training process with the arm."""
    dump_json_atomic(dict(train_seconds=round(float(seconds), 1)),
                     osp.join(work_dir, TRAIN_TIME_FILE))


def log_train_seconds(work_dir: str) -> Optional[float]:
    """The span of the latest mmengine run in ``work_dir`` that trained (its log
    holds ``(train)`` iterations); ``None`` when there is none."""
    runs = sorted((d for d in os.listdir(work_dir) if _RUN_DIR.match(d)
                   and osp.isfile(osp.join(work_dir, d, f'{d}.log'))), reverse=True)
    for run in runs:
        first = last = None
        trained = False
        with open(osp.join(work_dir, run, f'{run}.log'), errors='replace') as f:
            for line in f:
                m = _STAMP.match(line)
                if m is None:
                    continue
                last = m.group(1)
                first = first or last
                trained = trained or '(train)' in line
        if trained:
            fmt = '%Y/%m/%d %H:%M:%S'
            span = datetime.strptime(last, fmt) - datetime.strptime(first, fmt)
            return round(span.total_seconds(), 1)
    return None


def read_train_seconds(work_dir: str) -> Optional[float]:
    """The arm's training time: its ``train_time.json``, else its training log's
    span, else ``None`` (unknown)."""
    path = osp.join(work_dir, TRAIN_TIME_FILE)
    if osp.isfile(path):
        try:
            with open(path) as f:
                value = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f'{path}: not valid JSON ({e.msg}, line {e.lineno})') from None
        value = value.get('train_seconds') if isinstance(value, dict) else value
        if not is_number(value) or value < 0:
            raise ValueError(f'{path}: train_seconds must be a number >= 0, got {value!r}')
        return float(value)
    return log_train_seconds(work_dir) if osp.isdir(work_dir) else None
