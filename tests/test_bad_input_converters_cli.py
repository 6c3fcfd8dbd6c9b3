"""vindr_cxr_to_coco.py and make_med_mnist.py ranges, tools/test.py's files, and the
entry wrapper every tool shares (issue 28: one error style, exit 2, --debug)."""
import csv
import json
import subprocess
import sys

import pytest

from bad_input_tools import error_line, md5, refused, run
from conftest import REPO

VINDR = 'tools/dataset_converters/vindr_cxr_to_coco.py'
MAKE = 'tools/dataset_converters/make_med_mnist.py'


@pytest.fixture
def vindr_csv(tmp_path):
    path = tmp_path / 'train.csv'
    with open(path, 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['image_id', 'class_name', 'class_id', 'rad_id', 'x_min', 'y_min',
                    'x_max', 'y_max', 'width', 'height'])
        for k, image in enumerate('abcd'):
            w.writerow([image, 'Nodule/Mass', 8, 'R1', 10 + k, 10, 30, 30, 100, 100])
            w.writerow([image, 'Nodule/Mass', 8, 'R2', 11 + k, 10, 30, 30, 100, 100])
    return path


@pytest.mark.parametrize('value', ['1', '-0.5', '1.5', 'nan'])
def test_val_fraction_out_of_range_is_refused_before_any_work(value, vindr_csv, tmp_path,
                                                              capsys):
    code, out, err = run(VINDR, [vindr_csv, '--out', tmp_path / 'o.json', '--val-fraction',
                                 value, '--no-progress'], capsys)
    assert code == 2 and '--val-fraction must be in [0, 1)' in error_line(err)
    assert out == ''  # no summary printed: nothing was converted
    assert not list(tmp_path.glob('o*.json'))


def test_val_fraction_zero_writes_the_documented_train_and_val(vindr_csv, tmp_path, capsys):
    code, _, err = run(VINDR, [vindr_csv, '--out', tmp_path / 'o.json', '--val-fraction', 0,
                               '--no-progress'], capsys)
    assert code == 0, err
    train = json.loads((tmp_path / 'o_train.json').read_text())
    val = json.loads((tmp_path / 'o_val.json').read_text())
    assert len(train['images']) == 4 and val['images'] == [] and val['annotations'] == []
    assert not (tmp_path / 'o.json').exists()


def test_val_fraction_splits_by_image(vindr_csv, tmp_path, capsys):
    code, _, err = run(VINDR, [vindr_csv, '--out', tmp_path / 'o.json', '--val-fraction',
                               0.25, '--no-progress'], capsys)
    assert code == 0, err
    n = [len(json.loads((tmp_path / f'o_{s}.json').read_text())['images'])
         for s in ('train', 'val')]
    assert n == [3, 1]


@pytest.mark.parametrize('args, message', [
    (['--max-size', '0', '--png-out', 'P'], '--max-size must be >= 1'),
    (['--max-size', '100'], '--max-size needs --png-out'),
    (['--require-all-readers'], '--require-all-readers needs --readers'),
])
def test_converter_options_are_checked_first(args, message, vindr_csv, tmp_path, capsys):
    args = [str(tmp_path / a) if a == 'P' else a for a in args]
    refused(VINDR, [vindr_csv, '--out', tmp_path / 'o.json', *args, '--no-progress'],
            capsys, message)
    assert not (tmp_path / 'o.json').exists()


@pytest.mark.parametrize('args, message', [
    (['--num-train', '-3'], 'image counts must be >= 0'),
    (['--readers', '0'], 'need at least one reader'),
    (['--proficiency', 'nan'], 'proficiency must be in (0, 1]'),
    (['--img-size', '-3'], 'digit sizes must satisfy'),
    (['--digits-per-image', '3-1'], 'digits per image'),
])
def test_make_med_mnist_ranges_are_one_line(args, message, tmp_path, capsys):
    out = tmp_path / 'mm'
    refused(MAKE, ['--out', out, '--no-progress', *args], capsys, message)
    assert not out.exists()


# -- tools/test.py and checkpoints ---------------------------------------------------

@pytest.mark.parametrize('content, message', [
    (b'', 'not a checkpoint: the file is empty'),
    (b'garbage bytes', 'not a PyTorch checkpoint'),
])
def test_empty_or_garbage_pth_is_named(content, message, tmp_path):
    from mmmulti.utils.checkpoint import safe_torch_load
    pth = tmp_path / 'model.pth'
    pth.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        safe_torch_load(str(pth))


def test_test_tool_out_must_be_a_pkl(tmp_path, capsys):
    refused('tools/test.py', ['configs/tiny/retinanet_tiny_med_mnist.py', tmp_path / 'c.pth',
                              '--out', tmp_path / 'o.txt'], capsys, '--out must be a .pkl')


def test_test_tool_missing_checkpoint_is_one_line_in_a_subprocess(tmp_path):
    proc = subprocess.run([sys.executable, 'tools/test.py',
                           'configs/tiny/retinanet_tiny_med_mnist.py', str(tmp_path / 'no.pth')],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert 'does not exist' in error_line(proc.stderr)


# -- the entry wrapper ---------------------------------------------------------------

def _wrapped(exc):
    from mmmulti.utils.cli_errors import add_debug_flag, cli_entry
    import argparse

    @cli_entry
    def main(argv):
        add_debug_flag(argparse.ArgumentParser()).parse_args(argv)
        raise exc
    return main


@pytest.mark.parametrize('exc, code, line', [
    (ValueError('x.json: record 3: bbox must be a list'), 2,
     'error: x.json: record 3: bbox must be a list'),
    (FileNotFoundError(2, 'No such file or directory', 'in.json'), 2,
     'error: in.json: No such file or directory'),
    (IsADirectoryError(21, 'Is a directory', 'd'), 2, 'error: d: Is a directory'),
    (PermissionError(13, 'Permission denied', 'o.json'), 2, 'error: o.json: Permission denied'),
    (OSError(28, 'No space left on device', 'o.json'), 2,
     'error: o.json: No space left on device'),
    (EOFError('Ran out of input'), 2, 'error: not a readable pickle (Ran out of input)'),
    (SystemExit('error: told so'), 2, 'error: told so'),
    (ZeroDivisionError('division by zero'), 1,
     'error: internal error ZeroDivisionError: division by zero (rerun with --debug'),
])
def test_entry_wrapper_prints_one_line(exc, code, line, capsys):
    assert _wrapped(exc)([]) == code
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and err.startswith(line) and 'Traceback' not in err


def test_entry_wrapper_debug_reraises():
    with pytest.raises(ValueError, match='boom'):
        _wrapped(ValueError('boom'))(['--debug'])


def test_entry_wrapper_keeps_named_user_errors():
    from mmmulti.engine.runners import CheckpointMismatchError
    from mmmulti.utils.cli_errors import exit_status, format_error
    e = CheckpointMismatchError('checkpoint F does not fit the model')
    assert exit_status(e) == 2
    assert format_error(e) == 'error: CheckpointMismatchError: checkpoint F does not fit the model'


def test_every_tool_has_the_debug_flag():
    import glob
    import os
    for path in sorted(glob.glob(os.path.join(REPO, 'tools', '**', '*.py'), recursive=True)):
        text = open(path).read()
        assert 'cli_entry' in text or 'wrapped by mmmulti.utils.cli_errors' in text, path
        assert ('add_debug_flag' in text or 'strip_debug=True' in text
                or 'wrapped by mmmulti.utils.cli_errors' in text), path
