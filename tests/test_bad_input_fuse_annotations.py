"""fuse_annotations.py and the fusion methods' parameters (issue 28: silent wrong,
unclear crashes). One test per case; the output guard is in
test_bad_input_output_guard.py."""
import json

import pytest

from bad_input_tools import error_line, md5, readers_coco, refused, run, write_json

TOOL = 'tools/fuse_annotations.py'


@pytest.fixture
def src(tmp_path):
    return write_json(tmp_path / 'readers.json', readers_coco())


@pytest.mark.parametrize('method', ['nms', 'nmw', 'soft_nms', 'majority_vote'])
@pytest.mark.parametrize('thr', ['1.5', 'nan', '0', '-0.1', 'inf'])
def test_iou_thr_out_of_range_is_refused(method, thr, src, tmp_path, capsys):
    out = tmp_path / 'out.json'
    refused(TOOL, [src, out, '--method', method, '--iou-thr', thr], capsys,
            'iou_thr must be in (0, 1]')
    assert not out.exists()


@pytest.mark.parametrize('method', ['nms', 'nmw', 'soft_nms', 'majority_vote'])
def test_iou_thr_one_is_accepted(method, src, tmp_path, capsys):
    code, _, err = run(TOOL, [src, tmp_path / 'o.json', '--method', method, '--iou-thr', 1],
                       capsys)
    assert code == 0, err


@pytest.mark.parametrize('weight', ['inf', '1e308', 'nan', '-1', '0'])
@pytest.mark.parametrize('method', ['wbf', 'nms', 'nmw'])
def test_bad_reader_weight_is_refused(method, weight, src, tmp_path, capsys):
    out = tmp_path / 'out.json'
    refused(TOOL, [src, out, '--method', method, '--reader-weights', f'R1={weight}'],
            capsys, "--reader-weights['R1'] must be a finite number in (0, 1e+06]")
    assert not out.exists()


def test_weight_of_a_reader_not_in_the_file_is_refused(src, tmp_path, capsys):
    refused(TOOL, [src, tmp_path / 'o.json', '--reader-weights', 'R1=2', 'R9=1'], capsys,
            "reader weight(s) for ['R9'], not readers of the file", 'R1, R2, R3')


def test_reader_weight_given_twice_is_refused(src, tmp_path, capsys):
    refused(TOOL, [src, tmp_path / 'o.json', '--reader-weights', 'R1=2', 'R1=3'], capsys,
            "reader 'R1' given twice")


def test_finite_weights_give_finite_boxes(src, tmp_path, capsys):
    out = tmp_path / 'o.json'
    code, _, err = run(TOOL, [src, out, '--reader-weights', 'R1=1e6', 'R2=1e-6'], capsys)
    assert code == 0, err
    text = out.read_text()
    assert 'NaN' not in text and 'Infinity' not in text


@pytest.mark.parametrize('thr', ['1.5', '-0.1', 'nan'])
@pytest.mark.parametrize('method', ['wbf', 'nmw'])
def test_skip_box_thr_outside_0_1_is_refused(method, thr, src, tmp_path, capsys):
    refused(TOOL, [src, tmp_path / 'o.json', '--method', method, '--skip-box-thr', thr],
            capsys, 'skip_box_thr must be in [0, 1]')


def test_single_reader_of_an_unknown_reader_is_refused(src, tmp_path, capsys):
    out = tmp_path / 'o.json'
    line = refused(TOOL, [src, out, '--method', 'single_reader', '--reader', 'R9'], capsys,
                   "reader 'R9' is not in the file")
    assert src in line and not out.exists()
    # as --readers R9 is
    code, _, err = run(TOOL, [src, out, '--readers', 'R9'], capsys)
    assert code == 2 and error_line(err)


def test_fused_file_as_readers_input_is_refused_with_a_hint(src, tmp_path, capsys):
    fused = tmp_path / 'fused.json'
    assert run(TOOL, [src, fused], capsys)[0] == 0
    refused(TOOL, [fused, tmp_path / 'again.json'], capsys, 'fused.json',
            'it is a fused file', "give the readers' boxes")


def test_missing_file_and_directory_are_one_line(tmp_path, capsys):
    refused(TOOL, [tmp_path / 'nope.json', tmp_path / 'o.json'], capsys,
            'nope.json: No such file or directory')
    refused(TOOL, [tmp_path, tmp_path / 'o.json'], capsys, 'Is a directory')


def test_truncated_json_names_the_file(tmp_path, capsys):
    bad = tmp_path / 'cut.json'
    bad.write_text(json.dumps(readers_coco())[:60])
    refused(TOOL, [bad, tmp_path / 'o.json'], capsys, 'cut.json', 'not valid JSON')


def test_debug_shows_the_traceback(src, tmp_path, capsys):
    with pytest.raises(ValueError, match='iou_thr must be in'):
        run(TOOL, [src, tmp_path / 'o.json', '--method', 'nms', '--iou-thr', 2, '--debug'],
            capsys)


def test_refused_run_leaves_the_input_unchanged(src, tmp_path, capsys):
    before = md5(src)
    refused(TOOL, [src, tmp_path / 'o.json', '--method', 'nms', '--iou-thr', 'nan'], capsys)
    assert md5(src) == before


def test_majority_vote_min_readers_must_be_positive():
    from mmmulti.fusion import build_fusion
    with pytest.raises(ValueError, match='min_readers must be an integer >= 1'):
        build_fusion('majority_vote', min_readers=0)


def test_soft_nms_sigma_and_thresh_are_checked():
    from mmmulti.fusion import build_fusion
    with pytest.raises(ValueError, match='sigma'):
        build_fusion('soft_nms', sigma=0)
    with pytest.raises(ValueError, match='thresh must be in'):
        build_fusion('soft_nms', thresh=2)
