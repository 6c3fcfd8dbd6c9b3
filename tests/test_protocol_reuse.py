"""The protocol reuses a data folder and an arm's predictions only when they are what the
run asks for: other data settings or another merged config are refused by name."""
import json
import os

import pytest

from conftest import REPO
from mmmulti.protocol.arms import make_arms
from mmmulti.protocol.runner import ProtocolRunner, ProtocolSettings
from mmmulti.simulation import make_med_mnist
from mmmulti.simulation.provenance import generation_mismatch, generation_record

TINY = f'{REPO}/configs/protocol/tiny.py'
TINY_DATA = dict(num_train=12, num_val=4, num_test=6, img_size=64, seed=0)


def test_generation_record_resolves_defaults_and_presets():
    a = generation_record(num_train=12, img_size=64)
    b = generation_record(num_train=12, img_size=64, preset='paper', proficiency=0.8,
                          digits_per_image=(1, 4), progress=False)
    assert a == b
    assert a['digits_per_image'] == [1, 4] and len(a['reader_profiles']) == 3
    assert generation_record(num_train=12, img_size=64, preset='mixed') != a
    with pytest.raises(ValueError, match='num_trian'):
        generation_record(num_trian=12)


@pytest.fixture(scope='module')
def tiny_data(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('tiny_protocol_data'))
    make_med_mnist(root, **TINY_DATA, progress=False)
    return root


def test_generated_folder_records_its_settings(tiny_data):
    readers = os.path.join(tiny_data, 'annotations', 'readers.json')
    assert generation_mismatch(readers, dict(TINY_DATA, progress=False)) == []
    diff = generation_mismatch(readers, dict(TINY_DATA, num_train=40, preset='vindr_like'))
    assert any(line.startswith('num_train: 12 in the folder, 40 asked') for line in diff)
    assert any(line.startswith('preset:') for line in diff)
    assert any(line.startswith('reader_profiles:') for line in diff)


def _runner(tmp_path, data_root, **kw):
    return ProtocolRunner(ProtocolSettings(scale_file=TINY, work_dir=str(tmp_path / 'work'),
                                           data_root=data_root, **kw))


def test_runner_refuses_data_generated_with_other_settings(tmp_path, tiny_data):
    _runner(tmp_path, tiny_data).prepare_data()  # the tiny scale's own data: reused
    runner = _runner(tmp_path, tiny_data, data_overrides=dict(num_train=40))
    with pytest.raises(ValueError) as e:
        runner.prepare_data()
    msg = str(e.value)
    assert tiny_data in msg and 'num_train: 12 in the folder, 40 asked' in msg
    assert '--data-root' in msg


def test_runner_checks_cannot_be_made_on_an_old_folder_and_says_so(tmp_path, tiny_data,
                                                                     capsys):
    old = tmp_path / 'old'
    os.makedirs(old / 'annotations')
    for name in ('test.json', 'readers.json'):
        with open(os.path.join(tiny_data, 'annotations', name)) as f:
            data = json.load(f)
        data.pop('generation', None)
        (old / 'annotations' / name).write_text(json.dumps(data))
    _runner(tmp_path, str(old)).prepare_data()
    assert 'records no settings' in capsys.readouterr().out


def test_reused_predictions_must_come_from_the_same_config(tmp_path, tiny_data):
    arm = make_arms(['R1', 'R2', 'R3'])['wbf_earl']
    work = str(tmp_path / 'arm')
    _runner(tmp_path, tiny_data).arm_config(arm, 0, work)  # as a finished run left it
    _runner(tmp_path, tiny_data).check_reused_arm(arm, 0, work)  # same config: reused
    changed = _runner(tmp_path, tiny_data, extra_cfg={'train_cfg.max_epochs': 3})
    with pytest.raises(ValueError) as e:
        changed.check_reused_arm(arm, 0, work)
    assert 'train_cfg.max_epochs: 1 -> 3' in str(e.value) and work in str(e.value)
    with pytest.raises(ValueError, match='randomness.seed: 0 -> 1'):
        _runner(tmp_path, tiny_data).check_reused_arm(arm, 1, work)
    # what the tools add to <arm>.py when they run (launcher, load_from) is not a change
    with open(os.path.join(work, 'wbf_earl.py'), 'a') as f:
        f.write("launcher = 'none'\nload_from = 'best.pth'\n")
    _runner(tmp_path, tiny_data).check_reused_arm(arm, 0, work)


def test_reuse_without_a_record_is_said(tmp_path, tiny_data, capsys):
    arm = make_arms(['R1', 'R2', 'R3'])['baseline']
    work = str(tmp_path / 'arm')
    _runner(tmp_path, tiny_data).arm_config(arm, 0, work)
    os.remove(os.path.join(work, 'protocol_config.py'))  # as an older mmmulti left it
    _runner(tmp_path, tiny_data).check_reused_arm(arm, 0, work)
    assert 'not checked' in capsys.readouterr().out
