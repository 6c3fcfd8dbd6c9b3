"""eval_results.py and ensemble.py on bad parameters, ground truth and predictions
(issue 28): refused with one line naming the file and record, exit 2."""
import json
import pickle

import pytest

from bad_input_tools import md5, refused, run, truth_coco, write_json

EVAL = 'tools/analysis/eval_results.py'
ENS = 'tools/ensemble.py'
PRED = dict(image_id=1, category_id=1, bbox=[11, 10, 20, 20], score=0.9)


@pytest.fixture
def gt(tmp_path):
    return write_json(tmp_path / 'gt.json', truth_coco())


@pytest.fixture
def preds(tmp_path):
    return write_json(tmp_path / 'preds.json', [PRED])


def _gt_with(tmp_path, **ann):
    data = truth_coco()
    data['annotations'][0].update(ann)
    return write_json(tmp_path / 'bad_gt.json', data)


def test_eval_iou_thr_above_one_is_refused(gt, preds, capsys):
    """--iou-thr 1.5 used to print map_150: 1.0."""
    code, out, err = run(EVAL, ['--gt', gt, '--pred', preds, '--iou-thr', 1.5], capsys)
    assert code == 2 and 'map_150' not in out
    assert '--iou-thr must be in (0, 1], got 1.5' in err


@pytest.mark.parametrize('value', ['nan', '0', '-0.4'])
def test_eval_iou_thr_out_of_range_is_refused(value, gt, preds, capsys):
    refused(EVAL, ['--gt', gt, '--pred', preds, '--iou-thr', value], capsys,
            '--iou-thr must be in (0, 1]')


@pytest.mark.parametrize('ann, message', [
    (dict(bbox=[float('nan'), 10, 20, 20]), 'bbox must be [x, y, w, h], four finite numbers'),
    (dict(category_id=7), 'category_id 7 is not a category of the file'),
    (dict(image_id=99), 'image_id 99 is not an image of the file'),
    (dict(category_id='1'), "category_id must be an integer (a JSON number within int64), "
                            "got a string '1'"),
    (dict(id=2 ** 70), 'id must be an integer (a JSON number within int64)'),
])
def test_eval_ground_truth_faults_are_refused(ann, message, preds, tmp_path, capsys):
    bad = _gt_with(tmp_path, **ann)
    line = refused(EVAL, ['--gt', bad, '--pred', preds], capsys, 'bad_gt.json', message)
    assert 'annotation record 0' in line


def test_eval_null_gt_record_is_named(preds, tmp_path, capsys):
    data = truth_coco()
    data['annotations'].append(None)
    bad = write_json(tmp_path / 'bad_gt.json', data)
    refused(EVAL, ['--gt', bad, '--pred', preds], capsys,
            'bad_gt.json: annotation record 2: not an object, got None')


@pytest.mark.parametrize('field, value, message', [
    ('category_id', '2', "category_id must be an integer (a JSON number within int64), "
                         "got a string '2'"),
    ('bbox', '1234', "bbox must be [x, y, w, h], four finite numbers, got '1234'"),
    ('bbox', [True, True, True, True], 'bbox must be [x, y, w, h]'),
    ('score', 'high', "score must be a finite number, got 'high'"),
    ('image_id', 2 ** 70, 'image_id must be an integer'),
])
def test_eval_prediction_faults_are_refused(field, value, message, gt, tmp_path, capsys):
    bad = write_json(tmp_path / 'bad.json', [dict(PRED, **{field: value})])
    refused(EVAL, ['--gt', gt, '--pred', bad], capsys, 'bad.json: record 0', message)


def test_eval_null_prediction_record_is_named(gt, tmp_path, capsys):
    bad = write_json(tmp_path / 'bad.json', [PRED, None])
    refused(EVAL, ['--gt', gt, '--pred', bad], capsys, 'bad.json: record 1: not a dict')


def test_truncated_json_names_the_file(gt, tmp_path, capsys):
    cut = tmp_path / 'cut.json'
    cut.write_text(json.dumps([PRED])[:30])
    refused(EVAL, ['--gt', gt, '--pred', cut], capsys, 'cut.json: not valid JSON')
    refused(EVAL, ['--gt', cut, '--pred', gt], capsys, 'cut.json: not valid JSON')


@pytest.mark.parametrize('content, message', [
    (b'', 'empty, truncated or another format'),
    (b'garbage, not a pickle', 'not a prediction pickle'),
    (pickle.dumps([1, 2, 3])[:-3], 'not a prediction pickle'),
])
def test_empty_or_garbage_pkl_is_one_line(content, message, gt, tmp_path, capsys):
    pkl = tmp_path / 'preds.pkl'
    pkl.write_bytes(content)
    refused(EVAL, ['--gt', gt, '--pred', pkl], capsys, 'preds.pkl', message)
    refused(ENS, [pkl, '--gt', gt, '--out', tmp_path / 'o.json'], capsys, 'preds.pkl', message)


def test_eval_scores_a_clean_pair(gt, tmp_path, capsys):
    preds = write_json(tmp_path / 'all.json', [PRED, dict(PRED, image_id=2)])
    code, out, err = run(EVAL, ['--gt', gt, '--pred', preds, '--json'], capsys)
    assert code == 0, err
    assert json.loads(out.splitlines()[-1])['map_40'] == pytest.approx(1.0)


# -- ensemble --------------------------------------------------------------------------

@pytest.mark.parametrize('weights, message', [
    (['0', '0'], '--weights #1 must be a finite number in (0, 1e+06]'),
    (['1', 'inf'], '--weights #2 must be a finite number'),
    (['1', 'nan'], '--weights #2 must be a finite number'),
    (['-1', '1'], '--weights #1 must be a finite number'),
    (['1e308', '1'], '--weights #1 must be a finite number in (0, 1e+06]'),
    (['1'], '--weights: 1 weights for 2 inputs'),
])
def test_ensemble_bad_weights_are_refused(weights, message, gt, preds, tmp_path, capsys):
    out = tmp_path / 'fused.json'
    refused(ENS, [preds, preds, '--gt', gt, '--out', out, '--weights', *weights], capsys,
            message)
    assert not out.exists()


@pytest.mark.parametrize('args, message', [
    (['--iou-thr', '1.5'], '--iou-thr must be in (0, 1)'),
    (['--iou-thr', 'nan'], '--iou-thr must be in (0, 1)'),
    (['--skip-box-thr', '2'], '--skip-box-thr must be in [0, 1]'),
])
def test_ensemble_thresholds_are_checked(args, message, gt, preds, tmp_path, capsys):
    refused(ENS, [preds, '--gt', gt, '--out', tmp_path / 'o.json', *args], capsys, message)


def test_ensemble_runs_and_keeps_its_inputs(gt, preds, tmp_path, capsys):
    before = md5(preds)
    code, _, err = run(ENS, [preds, preds, '--gt', gt, '--out', tmp_path / 'o.json',
                             '--weights', 2, 1], capsys)
    assert code == 0, err
    assert md5(preds) == before and json.loads((tmp_path / 'o.json').read_text())
