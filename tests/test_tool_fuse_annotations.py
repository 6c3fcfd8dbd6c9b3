"""tools/fuse_annotations.py, run as the README example shows."""
import importlib.util
import json
import os
import subprocess
import sys
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
