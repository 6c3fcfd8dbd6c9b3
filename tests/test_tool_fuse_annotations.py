"""tools/fuse_annotations.py, run as the README example shows."""
import importlib.util
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from mmmulti.io import load_multi_reader_coco

ROOT = Path(__file__).resolve().parents[1]
TOOL = ROOT / 'tools' / 'fuse_annotations.py'


def make_readers_file(path):
    """Two images read by R1, R2, R3. Image 1: a nodule all three drew, a mass
    only R1 drew, R2's bad box (negative width). Image 2: nobody drew."""
    data = dict(
        images=[dict(id=1, file_name='1.png', width=64, height=64, readers=['R1', 'R2', 'R3']),
                dict(id=2, file_name='2.png', width=64, height=64, readers=['R1', 'R2', 'R3'])],
        categories=[dict(id=1, name='nodule'), dict(id=2, name='mass')],
        annotations=[
            dict(id=1, image_id=1, category_id=1, bbox=[10, 10, 20, 20], reader='R1'),
            dict(id=2, image_id=1, category_id=1, bbox=[11, 10, 20, 21], reader='R2'),
            dict(id=3, image_id=1, category_id=1, bbox=[10, 11, 21, 20], reader='R3'),
            dict(id=4, image_id=1, category_id=2, bbox=[40, 40, 10, 10], reader='R1'),
            dict(id=5, image_id=1, category_id=2, bbox=[40, 40, -3, 10], reader='R2'),
        ])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def test_readme_example(tmp_path):
    src = tmp_path / 'data' / 'vindr' / 'train_readers.json'
    out = tmp_path / 'data' / 'vindr' / 'train_wbf.json'
    make_readers_file(src)
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get('PYTHONPATH', ''))
    proc = subprocess.run(
        [sys.executable, str(TOOL), 'data/vindr/train_readers.json',
         'data/vindr/train_wbf.json', '--method', 'wbf', '--iou-thr', '0.4'],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert 'images      : 2' in text
    assert 'boxes in    : 4' in text and 'boxes out   : 2' in text
    assert 'x2<x1' in text and 'train_readers.json: annotation id 5 (image 1)' in text
    assert '3/3  c=1.00' in text and '1/3  c=0.33' in text
    assert 'seconds' in text

    fused = json.loads(out.read_text())
    assert fused['info']['fusion']['type'] == 'WBF'
    assert fused['info']['fusion']['iou_thr'] == 0.4
    anns = sorted(fused['annotations'], key=lambda a: -a['confidence'])
    assert [a['agreement'] for a in anns] == [3, 1]
    assert anns[0]['confidence'] == pytest.approx(1.0) and anns[1]['confidence'] == pytest.approx(1 / 3)
    assert [a['category_id'] for a in anns] == [1, 2]
    assert anns[1]['bbox'] == pytest.approx([40, 40, 10, 10])
    assert load_multi_reader_coco(out).kind == 'fused'


def load_tool():
    spec = importlib.util.spec_from_file_location('fuse_annotations', TOOL)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_other_methods_and_errors(tmp_path, capsys):
    tool = load_tool()
    src = tmp_path / 'r.json'
    make_readers_file(src)

    assert tool.main([str(src), str(tmp_path / 'rel.json'), '--method', 'Reliability_WBF']) == 0
    text = capsys.readouterr().out
    assert 'reader reliability' in text and 'R3' in text

    assert tool.main([str(src), str(tmp_path / 'one.json'), '--method', 'single_reader',
                      '--reader', 'R1']) == 0
    one = json.loads((tmp_path / 'one.json').read_text())
    assert len(one['annotations']) == 2 and one['info']['fusion']['reader'] == 'R1'

    assert tool.main([str(src), str(tmp_path / 'w.json'), '--method', 'WBF',
                      '--reader-weights', 'R1=2', 'R2=1', '--readers', 'R1', 'R2']) == 0
    w = json.loads((tmp_path / 'w.json').read_text())
    assert w['images'][0]['readers'] == ['R1', 'R2']
    assert w['info']['fusion']['reader_weights'] == {'R1': 2.0, 'R2': 1.0}
    capsys.readouterr()

    assert tool.main([str(src), str(tmp_path / 'x.json'), '--method', 'all_boxes',
                      '--iou-thr', '0.5']) == 2
    assert "does not take option(s) ['iou_thr']" in capsys.readouterr().err
    assert tool.main([str(src), str(tmp_path / 'x.json'), '--strict-geometry']) == 2
    assert 'annotation id 5 (image 1): x2<x1' in capsys.readouterr().err
    assert not (tmp_path / 'x.json').exists()


def test_presence_wbf_reports_its_drops(tmp_path, capsys):
    tool = load_tool()
    src = tmp_path / 'r.json'
    make_readers_file(src)
    # two clusters (the nodule of three readers, R1's lone mass): keep both with
    # --min-confidence 0, the posterior is the confidence
    assert tool.main([str(src), str(tmp_path / 'p.json'), '--method', 'presence_wbf',
                      '--min-confidence', '0']) == 0
    text = capsys.readouterr().out
    assert 'finding presence (two-coin EM' in text and '0 of 2 clusters' in text
    fused = json.loads((tmp_path / 'p.json').read_text())
    assert len(fused['annotations']) == 2
    assert fused['info']['fusion']['min_confidence'] == 0.0
    assert tool.main([str(src), str(tmp_path / 'x.json'), '--method', 'wbf',
                      '--min-confidence', '0.5']) == 2
    assert "does not take option(s) ['min_confidence']" in capsys.readouterr().err


@pytest.fixture(scope='module')
def vindr_like_readers(tmp_path_factory):
    """A generated 40-image multi-reader set whose readers make boxes up
    (``vindr_like``): PresenceWBF drops some clusters there."""
    from mmmulti.simulation import make_med_mnist
    root = tmp_path_factory.mktemp('vindr_like_40')
    make_med_mnist(str(root), num_train=40, num_val=2, num_test=2, img_size=64, seed=0,
                   preset='vindr_like', progress=False)
    return root / 'annotations' / 'train_multi_reader.json'


def warning_lines(err):
    return [line for line in err.splitlines() if line.startswith('WARNING')]


def test_em_that_stops_at_max_iter_warns_and_says_so_in_the_file(vindr_like_readers, tmp_path,
                                                                  capsys):
    from mmmulti.fusion import PresenceWBF
    from mmmulti.fusion.base import EMNotConvergedWarning
    from mmmulti.fusion.pipeline import fuse_coco_file
    src = vindr_like_readers
    with pytest.warns(EMNotConvergedWarning, match='PresenceWBF presence EM.*max_iter=1'):
        fuse_coco_file(src, tmp_path / 'p1.json', PresenceWBF(max_iter=1, progress=False))
    em = json.loads((tmp_path / 'p1.json').read_text())['info']['fusion']['em']
    assert em['converged'] is False and em['iterations'] == 1 and em['max_iter'] == 1

    tool = load_tool()
    # the tool: one readable WARNING line on stderr, the record in info.fusion.em
    assert tool.main([str(src), str(tmp_path / 'c1.json'), '--method', 'presence_wbf',
                      '--max-iter', '1']) == 0
    out, err = capsys.readouterr()
    lines = warning_lines(err)
    assert len(lines) == 1 and 'PresenceWBF presence EM' in lines[0], err
    assert 'max_iter=1' in lines[0] and 'without converging' in lines[0]
    assert 'NOT converged: stopped at max_iter=1' in out
    fusion = json.loads((tmp_path / 'c1.json').read_text())['info']['fusion']
    assert fusion['max_iter'] == 1 and fusion['em']['converged'] is False

    assert tool.main([str(src), str(tmp_path / 'r1.json'), '--method', 'reliability_wbf',
                      '--max-iter', '1', '--tol', '1e-9']) == 0
    lines = warning_lines(capsys.readouterr().err)
    assert len(lines) == 1 and 'ReliabilityWBF' in lines[0] and 'max_iter=1' in lines[0]
    fusion = json.loads((tmp_path / 'r1.json').read_text())['info']['fusion']
    assert fusion['tol'] == 1e-9 and fusion['em']['converged'] is False

    # converged: recorded, no warning; the drops per agreement sum to the total
    assert tool.main([str(src), str(tmp_path / 'c.json'), '--method', 'presence_wbf',
                      '--min-confidence', '0.5']) == 0
    out, err = capsys.readouterr()
    assert not warning_lines(err) and 'NOT converged' not in out
    fusion = json.loads((tmp_path / 'c.json').read_text())['info']['fusion']
    assert fusion['em']['converged'] is True and fusion['em']['iterations'] < 100
    by = fusion['dropped_by_agreement']
    assert fusion['dropped'] > 0 and sum(by.values()) == fusion['dropped']
    line = next(x for x in out.splitlines() if x.startswith('dropped clusters by agreement: '))
    assert line == 'dropped clusters by agreement: ' + ', '.join(f'{k}: {n}'
                                                                 for k, n in by.items())


def test_reader_model_arm_in_one_call(vindr_like_readers, tmp_path, capsys):
    from mmmulti.fusion import PresenceWBF
    from mmmulti.fusion.base import EMNotConvergedWarning
    from mmmulti.io.multi_reader_coco import fused_to_coco
    tool = load_tool()
    src = vindr_like_readers
    assert tool.main([str(src), str(tmp_path / 'rm.json'), '--method', 'presence_wbf',
                      '--iou-thr', '0.4', '--min-confidence', '0.5', '--correct-bias',
                      '--precision-weights', '--class-target', 'dawid_skene']) == 0
    text, err = capsys.readouterr()
    assert 'bias dx' in text and 'class EM (Dawid-Skene): ' in text
    got = json.loads((tmp_path / 'rm.json').read_text())
    fusion = got['info']['fusion']
    # on 40 images the class EM does not settle in its 50 rounds: the tool says so
    fits = [fusion['em'], fusion['em']['em_class']]
    assert len(warning_lines(err)) == sum(not f['converged'] for f in fits)
    assert fusion['type'] == 'PresenceWBF' and fusion['iou_thr'] == 0.4
    assert fusion['min_confidence'] == 0.5 and fusion['correct_bias'] is True
    assert fusion['precision_weights'] is True and fusion['class_target'] == 'dawid_skene'
    assert fusion['bias_rounds'] == 3 and fusion['max_iter'] == 100
    assert set(fusion['em']['em_class']) >= {'iterations', 'delta', 'converged'}
    # the same boxes as the arm's method, built by hand
    coco = load_multi_reader_coco(src)
    method = PresenceWBF(iou_thr=0.4, min_confidence=0.5, correct_bias=True,
                         precision_weights=True, class_target='dawid_skene', progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', EMNotConvergedWarning)
        fused = method.fuse_dataset(coco.reads)
    assert method.em == fusion['em']
    want = fused_to_coco(coco, fused, {})['annotations']
    assert len(got['annotations']) == len(want) > 0
    for a, b in zip(got['annotations'], want):
        assert (a['image_id'], a['category_id'], a['agreement']) == \
            (b['image_id'], b['category_id'], b['agreement'])
        assert a['bbox'] == pytest.approx(b['bbox']) and \
            a['confidence'] == pytest.approx(b['confidence'])


@pytest.mark.parametrize('args, message', [
    (['--max-iter', '0'], "error: --max-iter must be an integer >= 1, got '0'"),
    (['--max-iter', '2.5'], "error: --max-iter must be an integer >= 1, got '2.5'"),
    (['--max-iter', 'many'], "error: --max-iter must be an integer >= 1, got 'many'"),
    (['--tol', '0'], "error: --tol must be a finite number > 0, got '0'"),
    (['--tol=-1e-3'], "error: --tol must be a finite number > 0, got '-1e-3'"),
    (['--tol', 'inf'], "error: --tol must be a finite number > 0, got 'inf'"),
    (['--tol', 'nan'], "error: --tol must be a finite number > 0, got 'nan'"),
    (['--bias-rounds', '0'], "error: --bias-rounds must be an integer >= 1, got '0'"),
])
def test_bad_em_options_are_one_line_errors(tmp_path, capsys, args, message):
    tool = load_tool()
    src = tmp_path / 'r.json'
    make_readers_file(src)
    assert tool.main([str(src), str(tmp_path / 'x.json'), '--method', 'presence_wbf',
                      *args]) == 2
    out, err = capsys.readouterr()
    assert err.strip() == message and out == ''
    assert not (tmp_path / 'x.json').exists()


def test_em_options_are_refused_by_methods_without_em(tmp_path, capsys):
    tool = load_tool()
    src = tmp_path / 'r.json'
    make_readers_file(src)
    for args, option in ((['--max-iter', '5'], 'max_iter'), (['--correct-bias'], 'correct_bias'),
                         (['--class-target', 'votes'], 'class_target')):
        assert tool.main([str(src), str(tmp_path / 'x.json'), '--method', 'wbf', *args]) == 2
        assert f"does not take option(s) ['{option}']" in capsys.readouterr().err
    assert tool.main([str(src), str(tmp_path / 'x.json'), '--method', 'dawid_skene_wbf',
                      '--class-max-iter', '5']) == 2
    assert "['class_max_iter']" in capsys.readouterr().err
