"""Reader diagnosis: Krippendorff's alpha by hand, the parts of the library, the tool
on a small simulated set, and its bad inputs (one-line error, exit 2)."""
import json
import os.path as osp
import re
import sys

import numpy as np
import pytest
from PIL import Image

from mmmulti.analysis.diagnosis import (ALPHA_LOW, AUC_NO_SIGNAL, ECE_MARGIN, GAP_SMALL,
                                        PRESETS_COMPARED, agreement_histogram,
                                        alpha_from_value_counts, consensus_offsets,
                                        krippendorff_alpha_nominal, recommend,
                                        vote_value_counts)
from mmmulti.fusion.base import FusedBoxes, ImageReads
from mmmulti.fusion.calibrated import cluster_votes
from mmmulti.fusion.wbf import WBF
from mmmulti.simulation import make_med_mnist

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, osp.join(REPO, 'tools', 'analysis'))
import diagnose_readers  # noqa: E402

nan = np.nan


# -- Krippendorff's alpha -----------------------------------------------------------------
def test_alpha_hand_computed_binary_with_missing():
    # 3 coders, 4 units; None = the coder did not rate the unit
    #   u1: 1 1 1     u2: 1 0 -     u3: 0 0 0     u4: 1 0 0
    # pairable values: u1 3 ones; u2 one 1, one 0; u3 3 zeros; u4 one 1, two 0
    # n_1 = 3 + 1 + 0 + 1 = 5, n_0 = 0 + 1 + 3 + 2 = 6, n = 11
    # D_o = sum_u (m^2 - sum_c n_uc^2) / (m - 1)
    #     = 0 + (4 - 2) / 1 + 0 + (9 - 5) / 2 = 2 + 2 = 4
    # D_e = (n^2 - n_1^2 - n_0^2) / (n - 1) = (121 - 25 - 36) / 10 = 6
    # alpha = 1 - 4 / 6 = 1 / 3
    data = [[1, 1, 1], [1, 0, None], [0, 0, 0], [1, 0, 0]]
    assert krippendorff_alpha_nominal(np.array(data, dtype=float)) == pytest.approx(1 / 3)
    assert alpha_from_value_counts([[0, 3], [1, 1], [3, 0], [2, 1]]) == pytest.approx(1 / 3)
    # a unit with a single value is not pairable: adding one changes nothing
    assert krippendorff_alpha_nominal(
        np.array(data + [[1, None, None]], dtype=float)) == pytest.approx(1 / 3)


def test_alpha_published_example_and_limits():
    # Krippendorff (2011), "Computing Krippendorff's alpha-reliability": 4 observers,
    # 12 units, nominal values with missing data; alpha = 0.743
    a = [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan]
    b = [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3]
    c = [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan]
    d = [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan]
    assert krippendorff_alpha_nominal(np.array([a, b, c, d]).T) == pytest.approx(0.7434, abs=1e-4)
    assert krippendorff_alpha_nominal([[1, 1], [0, 0], [1, 1]]) == pytest.approx(1.0)
    assert np.isnan(krippendorff_alpha_nominal([[1, 1], [1, 1]]))   # one value: no D_e
    assert np.isnan(krippendorff_alpha_nominal([[1, nan], [nan, 0]]))  # nothing pairable
    # no signal, 3 readers, every cluster drawn by one of them: U units give
    # D_o = 2U, D_e = 4U^2 / (3U - 1), alpha = -1/2 + 1 / (2U): about -0.5, not 0
    assert alpha_from_value_counts([[2, 1]] * 50) == pytest.approx(-0.5 + 1 / 100)


def test_alpha_of_cluster_votes():
    reads = [ImageReads([[0, 0, 10, 10], [0, 0, 10, 10], [50, 50, 60, 60]], [0, 0, 0],
                        ['A', 'B', 'A'], ['A', 'B', 'C'], 100, 100),
             ImageReads([[0, 0, 10, 10]], [1], ['B'], ['A', 'B'], 100, 100)]
    members = WBF(iou_thr=0.4, progress=False).fuse_dataset_members(reads)
    drew, read = cluster_votes(reads, members, ['A', 'B', 'C'])
    counts = vote_value_counts(drew, read)
    assert sorted(map(tuple, counts.tolist())) == [(1, 1), (1, 2), (2, 1)]
    # the same units as a coder matrix: C did not read image 2 (missing)
    data = np.where(read > 0, drew, nan)
    assert alpha_from_value_counts(counts) == pytest.approx(krippendorff_alpha_nominal(data))


# -- other parts ----------------------------------------------------------------------------
def test_consensus_offsets_and_histogram():
    # B's box 1 px right of A's (width 10), C's twice the size, on one finding
    reads = [ImageReads([[10, 10, 20, 20], [11, 10, 21, 20], [5, 5, 25, 25]], [0, 0, 0],
                        ['A', 'B', 'C'], ['A', 'B', 'C'], 100, 100)]
    members = WBF(iou_thr=0.2, progress=False).fuse_dataset_members(reads)
    assert len(members[0]) == 1
    off = consensus_offsets(reads, members, ['A', 'B', 'C'])
    # C against the mean of A and B: [10.5, 10, 20.5, 20], width 10, centre (15.5, 15)
    assert off['C']['dx'] == pytest.approx((15 - 15.5) / 10)
    assert off['C']['log_scale'] == pytest.approx(np.log(2))
    # B against the mean of A and C: [7.5, 7.5, 22.5, 22.5], width 15, centre 15
    assert off['B']['dx'] == pytest.approx(1 / 15)
    assert off['A']['matched'] == 1
    fused = [FusedBoxes([[0, 0, 1, 1]] * 3, [0, 0, 0], [1, 1, 1], [1, 3, 1]),
             FusedBoxes([[0, 0, 1, 1]], [0], [1], [2])]
    two = ImageReads(np.zeros((0, 4)), [], [], ['A', 'B'], 10, 10)
    assert agreement_histogram([reads[0], two], fused) == {'2': [0, 1], '3': [2, 0, 1]}


def _heldout(auc, ece, low, high):
    by = {'1/2': dict(boxes=10, confirmed=low), '2/2': dict(boxes=10, confirmed=high)}
    return dict(methods={m: dict(auc=auc[k], ece=ece[k], by_agreement=by)
                         for k, m in enumerate(('wbf', 'presence_wbf', 'calibrated_wbf'))})


def test_recommendation_rule():
    # confidences do not rank boxes
    r = recommend(0.3, _heldout([0.5, 0.52, 0.51], [0.2, 0.2, 0.01], 0.3, 0.7), 'paper')
    assert r['arm'] == 'baseline' and 'AUC' in r['reason']
    # very low alpha and 1/2 confirmed as often as 2/2
    r = recommend(ALPHA_LOW - 0.1, _heldout([0.7] * 3, [0.2, 0.2, 0.01], 0.40,
                                             0.40 + GAP_SMALL / 2), 'vindr_like')
    assert r['arm'] == 'baseline' and 'no signal' in r['reason']
    # clear calibration gain
    r = recommend(0.3, _heldout([0.7] * 3, [0.25, 0.2, 0.25 - ECE_MARGIN - 0.01], 0.3, 0.8),
                  'vindr_like')
    assert r['arm'] == 'calibrated_earl' and r['verified']
    # agreement ranks, calibration gains little
    r = recommend(0.3, _heldout([0.7] * 3, [0.05, 0.2, 0.04], 0.3, 0.8), 'paper')
    assert r['arm'] == 'wbf_earl'
    # no held-out check
    r = recommend(0.3, None, 'paper')
    assert r['arm'] == 'wbf_earl' and not r['verified'] and 'UNVERIFIED' in r['reason']
    assert str(AUC_NO_SIGNAL) in r['rule']


# -- the tool -------------------------------------------------------------------------------
@pytest.fixture(scope='module')
def vindr_like(tmp_path_factory):
    out = str(tmp_path_factory.mktemp('diag'))
    return make_med_mnist(out, num_train=150, num_val=0, num_test=0, img_size=64,
                          preset='vindr_like', seed=0, progress=False)


def _run(argv, capsys):
    rc = diagnose_readers.main(argv)
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def test_tool_report_on_vindr_like(vindr_like, tmp_path, capsys):
    ann = vindr_like['train_multi_reader']
    out = str(tmp_path / 'diag')
    rc, stdout, stderr = _run([ann, '--out', out, '--bootstrap', '20'], capsys)
    assert rc == 0, stderr
    assert '[diagnose' in stderr and 'bootstrap 20/20' in stderr   # progress lines
    for name in ('report.md', 'diagnosis.json', 'agreement_histogram.png', 'reader_rates.png',
                 'pair_f1.png', 'reliability.png'):
        assert osp.isfile(osp.join(out, name)), name
    for name in ('agreement_histogram.png', 'reader_rates.png', 'pair_f1.png'):
        with Image.open(osp.join(out, name)) as im:
            assert im.format == 'PNG' and im.size[0] > 100
    report = open(osp.join(out, 'report.md')).read()
    for name in ('agreement_histogram.png', 'reader_rates.png', 'pair_f1.png',
                 'reliability.png'):
        assert f']({name})' in report
    # the reader table: every reader's sensitivity and made-up boxes with an interval
    rows = [ln for ln in report.splitlines() if re.match(r'\| R\d \| 150 \|', ln)]
    assert len(rows) == 3
    iv = r'\d+\.\d{3} \[\d+\.\d{3}, \d+\.\d{3}\]'
    assert all(len(re.findall(iv, ln)) == 2 for ln in rows)
    d = json.load(open(osp.join(out, 'diagnosis.json')))
    assert d['presets']['nearest'] in PRESETS_COMPARED
    assert d['presets']['nearest'] == 'vindr_like'   # it is vindr_like data
    assert f'Nearest preset: **{d["presets"]["nearest"]}**' in report
    for r, v in d['per_reader'].items():
        lo, hi = v['interval']['sensitivity']
        assert 0 <= lo <= hi <= 1
    assert set(d['heldout']['methods']) == {'wbf', 'presence_wbf', 'calibrated_wbf'}
    assert sum(d['histogram']['3']) > 0 and d['agreement']['alpha'] is not None
    assert d['recommendation']['arm'] in ('baseline', 'wbf_earl', 'calibrated_earl')
    assert '## 6. Recommendation' in report and 'held-out check' in report
    assert f'nearest simulator preset: {d["presets"]["nearest"]}' in stdout
    assert 'recommendation:' in stdout


def _one_error_line(stderr, path):
    lines = [ln for ln in stderr.splitlines() if not ln.startswith('[diagnose')]
    assert len(lines) == 1, stderr
    assert lines[0].startswith(f'error: {path}'), lines[0]
    return lines[0]


def test_tool_bad_inputs(vindr_like, tmp_path, capsys):
    empty = tmp_path / 'empty.json'
    empty.write_text('')
    rc, _, err = _run([str(empty), '--out', str(tmp_path / 'o1')], capsys)
    assert rc == 2
    assert 'not valid JSON' in _one_error_line(err, str(empty))
    # a clean COCO file (the simulated truth) and a fused one: no readers
    clean = vindr_like['train']
    rc, _, err = _run([clean, '--out', str(tmp_path / 'o2')], capsys)
    assert rc == 2
    assert 'single_truth file has no readers' in _one_error_line(err, clean)
    fused = tmp_path / 'fused.json'
    fused.write_text(json.dumps(dict(
        images=[dict(id=1, width=64, height=64, file_name='a.png')],
        categories=[dict(id=0, name='0')],
        annotations=[dict(id=1, image_id=1, category_id=0, bbox=[1, 1, 5, 5],
                          confidence=0.5, agreement=1)])))
    rc, _, err = _run([str(fused), '--out', str(tmp_path / 'o3')], capsys)
    assert rc == 2
    assert 'fused file has no readers' in _one_error_line(err, str(fused))
    # one reader per image: nothing to compare
    d = json.load(open(vindr_like['train_multi_reader']))
    for im in d['images']:
        im['readers'] = ['R1']
    d['annotations'] = [a for a in d['annotations'] if a['reader'] == 'R1']
    one = tmp_path / 'one_reader.json'
    one.write_text(json.dumps(d))
    rc, _, err = _run([str(one), '--out', str(tmp_path / 'o4')], capsys)
    assert rc == 2
    assert 'no image is read by two or more readers' in _one_error_line(err, str(one))
    assert not (tmp_path / 'o4').exists()


def test_tool_two_readers_reports_heldout_impossible(vindr_like, tmp_path, capsys):
    d = json.load(open(vindr_like['train_multi_reader']))
    for im in d['images']:
        im['readers'] = ['R1', 'R2']
    d['annotations'] = [a for a in d['annotations'] if a['reader'] != 'R3']
    two = tmp_path / 'two.json'
    two.write_text(json.dumps(d))
    out = tmp_path / 'diag'
    rc, stdout, err = _run([str(two), '--out', str(out), '--bootstrap', '5',
                            '--sim-images', '60'], capsys)
    assert rc == 0, err
    report = (out / 'report.md').read_text()
    assert 'held-out validation is not possible' in report
    assert 'held-out validation is not possible' in stdout
    assert not (out / 'reliability.png').exists()
    res = json.loads((out / 'diagnosis.json').read_text())
    assert res['heldout'] is None and not res['recommendation']['verified']
    assert 'alpha_3_readers' not in res['presets']['features']   # no 3-reader image


def test_tool_refuses_to_write_over_input(vindr_like, tmp_path, capsys):
    ann = vindr_like['train_multi_reader']
    before = open(ann, 'rb').read()
    rc, _, err = _run([ann, '--out', ann], capsys)
    assert rc == 2 and 'is the input file' in err and err.count('\n') == 1
    # the input is OUT/diagnosis.json: writing the diagnosis there would replace it
    folder = tmp_path / 'data'
    folder.mkdir()
    inp = folder / 'diagnosis.json'
    inp.write_bytes(before)
    rc, _, err = _run([str(inp), '--out', str(folder)], capsys)
    assert rc == 2 and 'would replace the input file' in err and err.count('\n') == 1
    assert inp.read_bytes() == before and open(ann, 'rb').read() == before
    assert not (folder / 'report.md').exists()
