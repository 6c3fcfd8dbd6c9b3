"""Where a protocol run's time went: the stage table it prints, and each arm's
training time kept with the arm (a reused arm reports its training time, never
the seconds the reuse took; unknown is blank)."""
import json
import os
import time

import pytest

from conftest import REPO
from mmmulti.protocol.arms import make_arms
from mmmulti.protocol.runner import ProtocolRunner, ProtocolSettings
from mmmulti.protocol.timings import StageTimes
from mmmulti.protocol.train_time import (TRAIN_TIME_FILE, log_train_seconds,
                                         read_train_seconds, record_train_seconds)

TINY = f'{REPO}/configs/protocol/tiny.py'


def test_stage_table_lists_stages_in_order_with_the_rest_and_total():
    t = StageTimes()
    t.add('data', 1.25)
    with t.stage('scoring'):
        time.sleep(0.02)
    d = t.to_dict()
    assert [s['stage'] for s in d['stages']] == ['data', 'scoring']
    assert d['stages'][0]['seconds'] == 1.25 and d['stages'][1]['seconds'] >= 0.02
    # the 1.25 s were timed elsewhere (a subprocess): not part of this object's span
    assert d['total_seconds'] >= d['stages'][1]['seconds']
    lines = t.table().splitlines()
    assert lines[0].startswith('stage') and lines[0].endswith('| seconds')
    assert [ln.split('|')[0].strip() for ln in lines[2:]] == [
        'data', 'scoring', 'other (between stages)', 'total']


def test_stage_is_timed_when_its_block_raises():
    t = StageTimes()
    with pytest.raises(RuntimeError):
        with t.stage('training'):
            raise RuntimeError('boom')
    assert [s for s, _ in t.stages] == ['training']


def test_stage_table_is_written_as_json(tmp_path):
    t = StageTimes()
    t.add('data', 2.0)
    t.write(str(tmp_path / 'timings.json'))
    d = json.loads((tmp_path / 'timings.json').read_text())
    assert d['stages'] == [dict(stage='data', seconds=2.0)] and 'total_seconds' in d


def _mmengine_log(work, run, lines):
    os.makedirs(work / run)
    (work / run / f'{run}.log').write_text(''.join(f'{ln}\n' for ln in lines))


def test_train_time_record_wins_over_the_log(tmp_path):
    record_train_seconds(str(tmp_path), 123.44)
    assert json.loads((tmp_path / TRAIN_TIME_FILE).read_text()) == dict(train_seconds=123.4)
    _mmengine_log(tmp_path, '20261205_100000',
                  ['2026/12/05 10:00:00 - mmengine - INFO - start',
                   '2026/12/05 10:00:09 - mmengine - INFO - Epoch(train) [1][10/10]'])
    assert read_train_seconds(str(tmp_path)) == 123.4


def test_train_time_from_the_latest_log_that_trained(tmp_path):
    """An arm trained before train_time.json existed: the span of its training
    log; a later test-only run (no ``(train)`` line) does not count."""
    _mmengine_log(tmp_path, '20261205_100000',
                  ['2026/12/05 10:00:00 - mmengine - INFO - config',
                   'a line without a time stamp',
                   '2026/12/05 10:01:00 - mmengine - INFO - Epoch(train) [1][10/10]',
                   '2026/12/05 10:03:05 - mmengine - INFO - Epoch(val) [1][5/5]'])
    _mmengine_log(tmp_path, '20261205_110000',
                  ['2026/12/05 11:00:00 - mmengine - INFO - config',
                   '2026/12/05 11:00:04 - mmengine - INFO - Epoch(test) [5/5]'])
    os.makedirs(tmp_path / 'not_a_run')
    assert log_train_seconds(str(tmp_path)) == 185.0
    assert read_train_seconds(str(tmp_path)) == 185.0


def test_train_time_unknown_is_none(tmp_path):
    assert read_train_seconds(str(tmp_path)) is None
    assert read_train_seconds(str(tmp_path / 'missing')) is None


@pytest.mark.parametrize('content, message', [
    ('{"train_seconds": ', 'not valid JSON'),
    ('{"train_seconds": -1}', 'must be a number >= 0'),
    ('{"train_seconds": true}', 'must be a number >= 0'),
    ('{"train_seconds": "12"}', 'must be a number >= 0')])
def test_bad_train_time_record_is_named(content, message, tmp_path):
    (tmp_path / TRAIN_TIME_FILE).write_text(content)
    with pytest.raises(ValueError, match=rf'{TRAIN_TIME_FILE}: .*{message}'):
        read_train_seconds(str(tmp_path))


@pytest.fixture
def tiny_runner(tmp_path):
    from mmmulti.simulation import make_med_mnist
    data = str(tmp_path / 'data')
    make_med_mnist(data, num_train=12, num_val=4, num_test=6, img_size=64, seed=0,
                   progress=False)
    return ProtocolRunner(ProtocolSettings(scale_file=TINY, work_dir=str(tmp_path / 'work'),
                                           data_root=data))


def test_reused_arm_reports_its_training_time_not_the_reuse(tiny_runner, capsys):
    arm = make_arms(['R1', 'R2', 'R3'])['baseline']
    work = os.path.join(tiny_runner.s.work_dir, 'seed0', arm.name)
    tiny_runner.arm_config(arm, 0, work)  # as a finished run left it
    open(os.path.join(work, 'predictions.pkl'), 'wb').close()
    res = tiny_runner.run_trained_arm(arm, 0)
    assert res['train_seconds'] is None and list(res['stages']) == ['reuse']
    assert 'train_seconds left blank' in capsys.readouterr().out
    record_train_seconds(work, 321.0)
    assert tiny_runner.run_trained_arm(arm, 0)['train_seconds'] == 321.0


def test_parts_side_by_side_are_shown_under_their_stage_not_summed():
    """Arms trained at once: each arm's train and test under the one wall-time
    stage they shared; the rest of the run is not made negative by them."""
    t = StageTimes()
    t.add('train + test 2 arm run(s), 2 at a time', 10.0)
    t.add_part('seed 0 baseline: train', 8.0)
    t.add_part('seed 0 wbf_earl: train', 9.0)
    t.add('scoring', 1.0)
    d = t.to_dict()
    assert d['stages'][0]['side_by_side'] == [dict(part='seed 0 baseline: train', seconds=8.0),
                                              dict(part='seed 0 wbf_earl: train', seconds=9.0)]
    assert 'side_by_side' not in d['stages'][1]
    names = [ln.split('|')[0].rstrip() for ln in t.table().splitlines()[2:]]
    assert names[:4] == ['train + test 2 arm run(s), 2 at a time',
                         '  seed 0 baseline: train (side by side)',
                         '  seed 0 wbf_earl: train (side by side)', 'scoring']
