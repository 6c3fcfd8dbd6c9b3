"""fusion_vs_truth, reader_agreement, show_fusion and merge_runs on bad parameters
(issue 28). Each is refused before any work, with one error line and exit 2."""
import json
import math

import pytest

from bad_input_tools import (md5, readers_coco, refused, run, truth_coco, write_json,
                             write_png)
from conftest import write_protocol_results

FVT = 'tools/analysis/fusion_vs_truth.py'
RA = 'tools/analysis/reader_agreement.py'
SHOW = 'tools/analysis/show_fusion.py'
MERGE = 'tools/analysis/merge_runs.py'


@pytest.fixture
def files(tmp_path):
    return (write_json(tmp_path / 'readers.json', readers_coco()),
            write_json(tmp_path / 'truth.json', truth_coco()))


# -- fusion_vs_truth -------------------------------------------------------------------

@pytest.mark.parametrize('flag', ['--iou-thr', '--fusion-iou-thr'])
@pytest.mark.parametrize('value', ['1.5', 'nan', '0', '-1'])
def test_fusion_vs_truth_thresholds_are_checked(flag, value, files, tmp_path, capsys):
    out = tmp_path / 'scores.json'
    refused(FVT, [*files, flag, value, '--out', out], capsys, f'{flag} must be in (0, 1]')
    assert not out.exists()


def test_fusion_vs_truth_fusion_iou_is_not_replaced_by_the_default(files, tmp_path, capsys):
    """1.0 passes the tool's range but WBF takes [0, 1): an error, never a run at 0.4."""
    refused(FVT, [*files, '--methods', 'wbf', '--fusion-iou-thr', 1], capsys,
            'iou_thr must be in [0, 1)')
    # a method without a threshold still runs beside one that has it
    out = tmp_path / 's.json'
    code, _, err = run(FVT, [*files, '--methods', 'all_boxes', 'nms', '--fusion-iou-thr', 0.5,
                             '--out', out], capsys)
    assert code == 0, err
    assert [r['method'] for r in json.loads(out.read_text())] == ['all_boxes', 'nms']


def test_fusion_vs_truth_refuses_a_fused_file_as_readers(files, tmp_path, capsys):
    fused = tmp_path / 'fused.json'
    assert run('tools/fuse_annotations.py', [files[0], fused], capsys)[0] == 0
    refused(FVT, [fused, files[1]], capsys, 'it is a fused file')


# -- reader_agreement ------------------------------------------------------------------

@pytest.mark.parametrize('args, message', [
    (['--iou-thr', '1.5'], '--iou-thr must be in (0, 1]'),
    (['--iou-thr', 'nan'], '--iou-thr must be in (0, 1]'),
    (['--fusion-iou-thr', '-1'], '--fusion-iou-thr must be in (0, 1]'),
    (['--min-agreement', '0'], '--min-agreement must be >= 1'),
    (['--method', 'nope'], "unknown fusion method 'nope'"),
])
def test_reader_agreement_parameters_are_checked(args, message, files, tmp_path, capsys):
    out = tmp_path / 'ra'
    refused(RA, [files[0], '--out-dir', out, *args], capsys, message)
    assert not out.exists()


def test_reader_agreement_writes_its_report(files, tmp_path, capsys):
    code, _, err = run(RA, [files[0], '--out-dir', tmp_path / 'ra'], capsys)
    assert code == 0, err
    assert (tmp_path / 'ra' / 'reader_agreement.json').is_file()


# -- show_fusion -----------------------------------------------------------------------

@pytest.fixture
def images(tmp_path):
    for i in (1, 2):
        write_png(tmp_path / 'images' / f'{i:06d}.png')
    return tmp_path / 'images'


@pytest.mark.parametrize('args, message', [
    (['--num', '-3'], '--num must be >= 1, got -3'),
    (['--num', '0'], '--num must be >= 1'),
    (['--iou-thr', '1.5'], '--iou-thr must be in (0, 1]'),
    (['--method', 'nms', '--iou-thr', 'nan'], '--iou-thr must be in (0, 1]'),
])
def test_show_fusion_parameters_are_checked(args, message, files, images, tmp_path, capsys):
    out = tmp_path / 'fig.png'
    refused(SHOW, [files[0], '--img-dir', images, '--out', out, *args], capsys, message)
    assert not out.exists()


def test_show_fusion_draws(files, images, tmp_path, capsys):
    out = tmp_path / 'fig.png'
    code, _, err = run(SHOW, [files[0], '--img-dir', images, '--out', out, '--num', 1], capsys)
    assert code == 0, err
    assert out.read_bytes()[:4] == b'\x89PNG'


# -- merge_runs ------------------------------------------------------------------------

def test_merge_runs_refuses_a_nan_where_another_run_has_a_value(tmp_path, capsys):
    a = write_protocol_results(tmp_path / 'a', [('baseline', 0, 0.5, 0.3, 1.0)])
    b = write_protocol_results(tmp_path / 'b', [('baseline', 0, math.nan, 0.3, 1.0)])
    out = tmp_path / 'merged'
    for runs in ([a, b], [b, a]):
        refused(MERGE, [*runs, '--out', out], capsys, "arm 'baseline' seed 0 differs",
                'map_40')
    assert not (out / 'results.csv').exists()


def test_merge_runs_keeps_agreeing_rows(tmp_path, capsys):
    a = write_protocol_results(tmp_path / 'a', [('baseline', 0, 0.5, 0.3, 1.0)])
    b = write_protocol_results(tmp_path / 'b', [('baseline', 0, 0.5, 0.3, 1.0),
                                                ('baseline', 1, 0.4, 0.2, 1.0)])
    before = md5(a / 'results.csv')
    code, out, err = run(MERGE, [a, b, '--out', tmp_path / 'm'], capsys)
    assert code == 0, err
    assert 'merged 2 rows' in out and md5(a / 'results.csv') == before
