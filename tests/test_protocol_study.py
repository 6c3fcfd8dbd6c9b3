"""The study command: the protocol over reader presets and proficiencies."""
import csv
import os.path as osp
import subprocess
import sys

import pytest

from conftest import REPO
from mmmulti.protocol.study import (StudySettings, study_markdown, study_points,
                                    write_study_reports)


def fake_rows():
    rows = []
    for preset in ('paper', 'mixed'):
        for prof in (0.6, 0.8):
            for arm, base in (('baseline', 0.5), ('wbf_earl', 0.6)):
                for seed in (0, 1):
                    rows.append(dict(preset=preset, proficiency=prof, arm=arm, seed=seed,
                                     map_40=base + prof / 4 + seed / 100,
                                     map_50_95=base / 2 + prof / 8 + seed / 100))
    return rows


def test_points_come_from_the_scale_or_the_command_line():
    scale = osp.join(REPO, 'configs', 'protocol', 'study.py')
    assert study_points(StudySettings(scale, 'w')) == [
        ('vindr_like', 0.6), ('vindr_like', 0.7), ('vindr_like', 0.8)]
    assert study_points(StudySettings(scale, 'w', presets=['paper', 'mixed'],
                                      proficiencies=[0.9])) == [('paper', 0.9),
                                                                ('mixed', 0.9)]
    with pytest.raises(ValueError, match='proficiency'):
        study_points(StudySettings(scale, 'w', proficiencies=[1.5]))


def test_reports_give_mean_and_spread_per_point_and_arm(tmp_path):
    rows = fake_rows()
    md = study_markdown(rows)
    # paper, 0.6, baseline: 0.5 + 0.15 + {0, 0.01} -> 0.655 ± 0.007
    assert '| paper | 0.6 | 0.655 ± 0.007 | 0.755 ± 0.007 |' in md
    assert '## mAP@0.4' in md and '## mAP[.5:.95]' in md
    paths = write_study_reports(rows, str(tmp_path))
    back = list(csv.DictReader(open(paths['csv'])))
    assert len(back) == len(rows) and back[0]['preset'] == 'paper'
    assert osp.getsize(paths['png']) > 10000


def test_tiny_study_end_to_end(tmp_path):
    work = tmp_path / 'study'
    proc = subprocess.run(
        [sys.executable, 'tools/run_study.py', '--scale', 'tiny', '--presets', 'paper',
         '--proficiencies', '0.6', '0.9', '--arms', 'truth', 'baseline', 'wbf_earl',
         '--work-dir', str(work)],
        cwd=REPO, capture_output=True, text=True, timeout=1200)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-5000:]
    rows = list(csv.DictReader(open(work / 'study.csv')))
    assert [(r['proficiency'], r['arm']) for r in rows] == [
        ('0.6', 'truth'), ('0.6', 'baseline'), ('0.6', 'wbf_earl'),
        ('0.9', 'truth'), ('0.9', 'baseline'), ('0.9', 'wbf_earl')]
    # each point is a full protocol run on its own simulated readers
    for name, prof in (('paper_p0.6', 0.6), ('paper_p0.9', 0.9)):
        assert osp.isfile(work / name / 'results.md')
        readers = open(work / 'data' / name / 'annotations' / 'readers.json').read()
        assert f'"proficiency": {prof}' in readers
    assert osp.getsize(work / 'study.png') > 10000
