"""Reader profiles and presets of the MED-MNIST simulator."""
import json
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest

from mmmulti.analysis.matching import box_iou
from mmmulti.fusion import WBF
from mmmulti.io import load_multi_reader_coco
from mmmulti.simulation import ReaderProfile, make_med_mnist, preset_profiles

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def _load(path):
    with open(path) as f:
        return json.load(f)


def _xyxy(b):
    return [b[0], b[1], b[0] + b[2], b[1] + b[3]]


def make(tmp_path, name, **kw):
    args = dict(num_train=240, num_val=4, num_test=4, img_size=128, seed=5, progress=False)
    args.update(kw)
    return make_med_mnist(str(tmp_path / name), **args)


def test_paper_preset_is_the_papers_data(tmp_path):
    a = make(tmp_path, 'default', num_train=40)
    b = make(tmp_path, 'explicit', num_train=40,
             reader_profiles=[ReaderProfile(proficiency=0.8)] * 3)
    for key in ('train_multi_reader', 'train', 'test'):
        ra, rb = _load(a[key]), _load(b[key])
        assert ra['annotations'] == rb['annotations'] and ra['images'] == rb['images'], key
        assert 'reader_preset' not in ra['info'] and rb['info']['reader_preset'] == 'custom'
    meta = _load(a['readers'])
    assert meta['preset'] == 'paper'
    assert meta['readers'][0]['profile'] == dict(proficiency=0.8, miss_rate=0.0,
                                                 false_positives=0.0, min_iou=0.8, scale=1.0,
                                                 shift=[0.0, 0.0])


def test_vindr_like_agreement_matches_vindr_cxr(tmp_path):
    # real VinDr-CXR train set, WBF at 0.4: ~61 % / 19 % / 20 % of fused boxes from 1/2/3 readers
    paths = make(tmp_path, 'vindr', preset='vindr_like')
    data = load_multi_reader_coco(paths['train_multi_reader'])
    fused = WBF(iou_thr=0.4).fuse_dataset(data.reads)
    agreement = np.concatenate([f.agreement for f in fused])
    share = np.bincount(agreement, minlength=4)[1:4] / len(agreement)
    assert abs(share[0] - 0.6) < 0.07 and abs(share[1] - 0.2) < 0.07 \
        and abs(share[2] - 0.2) < 0.07, share
    meta = _load(paths['readers'])
    assert meta['preset'] == 'vindr_like'
    for r in meta['readers']:
        assert r['profile']['miss_rate'] > 0 and r['profile']['false_positives'] > 0
    st = meta['statistics']['readers']['R1']
    # the matrix's no_obj share (~2 %) plus the extra 5 %
    assert st['false_positives'] > 0 and 0.04 < st['missed'] / st['objects'] < 0.12


def test_mixed_expert_weak_and_biased(tmp_path):
    paths = make(tmp_path, 'mixed', preset='mixed')
    truth = {a['id']: a for a in _load(paths['train'])['annotations']}
    reads = _load(paths['train_multi_reader'])['annotations']
    by_reader = {}
    for a in reads:
        by_reader.setdefault(a['reader'], []).append(a)
    iou = {r: np.mean([box_iou([_xyxy(a['bbox'])], [_xyxy(truth[a['sim_object']]['bbox'])])[0, 0]
                       for a in anns if 'sim_object' in a]) for r, anns in by_reader.items()}
    assert iou['R1'] > 0.9 > iou['R2'] > iou['R3']   # expert, weak, weak and biased
    area_ratio = np.median([a['area'] / truth[a['sim_object']]['area']
                            for a in by_reader['R3'] if 'sim_object' in a])
    assert 1.3 < area_ratio < 2.0                     # scale 1.3: ~1.69 before clipping
    fps = {r: sum('sim_object' not in a for a in anns) for r, anns in by_reader.items()}
    assert fps['R1'] == 0 and fps['R2'] > 0 and fps['R3'] > 0
    meta = _load(paths['readers'])
    assert [r['profile']['scale'] for r in meta['readers']] == [1.0, 1.0, 1.3]
    # readers.json counts train + val; the count above is train only
    assert meta['statistics']['readers']['R2']['false_positives'] >= fps['R2'] > 0


def test_bad_preset_and_profiles():
    with pytest.raises(ValueError, match='unknown reader preset'):
        preset_profiles('nope')
    with pytest.raises(ValueError, match="'mixed' has 3 readers"):
        preset_profiles('mixed', num_readers=4)
    with pytest.raises(ValueError, match='miss_rate'):
        ReaderProfile(miss_rate=1.5)


def test_tool_preset_as_in_readme(tmp_path):
    out = tmp_path / 'vl'
    proc = subprocess.run(
        [sys.executable, 'tools/dataset_converters/make_med_mnist.py', '--out', str(out),
         '--num-train', '8', '--num-val', '2', '--num-test', '2', '--img-size', '64',
         '--preset', 'vindr_like', '--no-progress'],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert 'false positives' in proc.stdout
    assert _load(out / 'annotations' / 'readers.json')['preset'] == 'vindr_like'
