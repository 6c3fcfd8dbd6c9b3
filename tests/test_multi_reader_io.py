"""Multi-reader COCO loading (validation, counted drops) and fused COCO writing."""
import copy
import json

import numpy as np
import pytest

from mmmulti.fusion import FusedBoxes
from mmmulti.io import (FUSED_READER, SINGLE_TRUTH_READER, dump_fused_coco,
                        load_multi_reader_coco)


def ann(aid, image_id, bbox, reader='R1', category_id=7, **kw):
    a = dict(id=aid, image_id=image_id, category_id=category_id, bbox=bbox, iscrowd=0)
    if reader is not None:
        a['reader'] = reader
    a.update(kw)
    return a


def base_coco():
    return dict(
        images=[dict(id=1, file_name='a.png', width=100, height=80, readers=['R1', 'R2', 'R3']),
                dict(id=2, file_name='b.png', width=50, height=50)],
        categories=[dict(id=7, name='nodule'), dict(id=3, name='mass')],
        annotations=[ann(10, 1, [10, 20, 30, 40], 'R1', 3),
                     ann(11, 1, [12, 20, 30, 40], 'R2', 7),
                     ann(12, 2, [0, 0, 10, 10], 'R2', 7),
                     ann(13, 2, [5, 5, 10, 10], 'R1', 3)])


def write(tmp_path, data, name='data.json'):
    p = tmp_path / name
    p.write_text(json.dumps(data))
    return p


def test_parse_valid_file(tmp_path):
    m = load_multi_reader_coco(write(tmp_path, base_coco()))
    assert m.kind == 'multi_reader'
    assert m.cat_ids == [7, 3]
    assert m.class_names == ['nodule', 'mass']
    assert [im['readers'] for im in m.images] == [['R1', 'R2', 'R3'], ['R1', 'R2']]
    r0 = m.reads[0]
    np.testing.assert_array_equal(r0.boxes, [[10, 20, 40, 60], [12, 20, 42, 60]])
    np.testing.assert_array_equal(r0.labels, [1, 0])       # index in cat_ids order
    assert r0.readers.tolist() == ['R1', 'R2']
    assert r0.image_readers == ['R1', 'R2', 'R3']          # R3: absent vote
    assert (r0.width, r0.height) == (100.0, 80.0)
    np.testing.assert_array_equal(m.ann_ids[0], [10, 11])
    np.testing.assert_array_equal(m.ann_ids[1], [12, 13])
    # image 2 has no 'readers': its readers are its boxes' readers, sorted
    assert m.reads[1].image_readers == ['R1', 'R2']
    assert m.num_boxes == 4 and m.drops.total == 0
    assert m.readers == ['R1', 'R2', 'R3']
    np.testing.assert_array_equal(m.confidences[0], [1.0, 1.0])
    np.testing.assert_array_equal(m.agreements[0], [1, 1])


def test_single_truth_file_is_valid():
    d = base_coco()
    for im in d['images']:
        im.pop('readers', None)
    for a in d['annotations']:
        a.pop('reader')
    d['images'].append(dict(id=3, file_name='c.png', width=10, height=10))
    m = load_multi_reader_coco(d)
    assert m.kind == 'single_truth'
    assert all(r.image_readers == [SINGLE_TRUTH_READER] for r in m.reads)
    assert m.reads[0].readers.tolist() == [SINGLE_TRUTH_READER] * 2
    assert len(m.reads[2]) == 0 and m.reads[2].image_readers == [SINGLE_TRUTH_READER]


@pytest.mark.parametrize('mutate, message', [
    (lambda d: d['annotations'][1].pop('reader'),
     'annotation id 11 (image 1): missing reader'),
    (lambda d: d['annotations'][1].update(category_id=99),
     'annotation id 11 (image 1): unknown category id 99'),
    (lambda d: d['annotations'][1].update(id=10),
     'annotation id 10 (image 1): duplicate annotation id'),
    (lambda d: d['images'][1].pop('width'), 'image 2 has no width/height'),
    (lambda d: d['images'][1].update(height=None), 'image 2 has no width/height'),
    (lambda d: d['annotations'][2].update(image_id=42),
     'annotation id 12 (image 42): refers to unknown image id 42'),
    (lambda d: d['annotations'][0].update(reader='R9'),
     "annotation id 10 (image 1): reader 'R9' is not in the image's readers"),
    (lambda d: d['images'][0].update(readers=['R1', 'R1']), 'image 1: duplicate reader'),
    (lambda d: d['images'].append(dict(d['images'][0])), 'duplicate image id 1'),
    (lambda d: d['annotations'][0].update(bbox=[1, 2, 3]),
     'annotation id 10 (image 1): bbox must be'),
])
def test_structural_errors_name_file_and_record(tmp_path, mutate, message):
    d = base_coco()
    mutate(d)
    p = write(tmp_path, d, 'readers.json')
    with pytest.raises(ValueError) as e:
        load_multi_reader_coco(p)
    assert str(e.value).startswith('readers.json')
    assert message in str(e.value)


def test_multi_reader_detected_from_image_readers_only():
    """Images list readers but no box names one: every box misses its reader."""
    d = base_coco()
    for a in d['annotations']:
        a.pop('reader')
    with pytest.raises(ValueError, match='annotation id 10 .*missing reader'):
        load_multi_reader_coco(d)


@pytest.mark.parametrize('bbox, reason', [
    ([10, 10, -5, 10], 'x2<x1'),
    ([10, 10, 5, -1], 'y2<y1'),
    ([float('nan'), 10, 5, 5], 'nan'),
    ([10, 10, 0, 5], 'zero_area'),
    ([10, 10, 5, 0], 'zero_area'),
    ([200, 10, 5, 5], 'out_of_image'),
    ([-20, 10, 5, 5], 'out_of_image'),
    ([100, 10, 5, 5], 'out_of_image'),      # touches the right edge only
])
def test_geometric_faults_are_counted_drops(tmp_path, bbox, reason):
    d = base_coco()
    d['annotations'].append(ann(20, 1, bbox, 'R3'))
    p = write(tmp_path, d)
    m = load_multi_reader_coco(p)
    assert m.drops.total == 1
    assert m.drops.counts[reason] == 1
    assert m.drops.examples[reason] == ['data.json: annotation id 20 (image 1)']
    assert 20 not in m.ann_ids[0]
    assert len(m.reads[0]) == 2
    assert reason in str(m.drops)
    # the reader whose only box was dropped still read the image
    assert 'R3' in m.reads[0].image_readers
    with pytest.raises(ValueError, match=f'data.json: annotation id 20 \\(image 1\\): {reason}'):
        load_multi_reader_coco(p, strict_geometry=True)


def test_reader_of_dropped_box_still_counts_when_readers_not_listed():
    d = base_coco()
    d['annotations'].append(ann(20, 2, [500, 500, 5, 5], 'R3'))
    m = load_multi_reader_coco(d)
    assert m.drops.counts['out_of_image'] == 1
    assert m.reads[1].image_readers == ['R1', 'R2', 'R3']


def test_partly_outside_box_is_clipped_and_counted():
    d = base_coco()
    d['annotations'].append(ann(20, 1, [90, 70, 20, 20], 'R3'))
    m = load_multi_reader_coco(d)
    assert m.drops.total == 0 and m.drops.clipped == 1
    np.testing.assert_array_equal(m.reads[0].boxes[-1], [90, 70, 100, 80])
    assert m.drops.clipped_examples == ['<dict>: annotation id 20 (image 1)']


def test_readers_filter():
    d = base_coco()
    d['images'].append(dict(id=3, file_name='c.png', width=10, height=10, readers=['R1']))
    m = load_multi_reader_coco(d, readers=['R2', 'R3'])
    assert m.reads[0].image_readers == ['R2', 'R3']
    assert m.reads[0].readers.tolist() == ['R2']
    np.testing.assert_array_equal(m.ann_ids[0], [11])
    assert m.reads[1].image_readers == ['R2']
    assert m.reads[2].image_readers == [] and len(m.reads[2]) == 0
    with pytest.raises(ValueError, match="reader\\(s\\) \\['R7'\\] not found"):
        load_multi_reader_coco(d, readers=['R7'])


def test_custom_reader_key_and_int_reader_ids():
    d = base_coco()
    for a in d['annotations']:
        a['radiologist'] = int(a.pop('reader')[1:])
    d['images'][0]['readers'] = [1, 2, 3]
    m = load_multi_reader_coco(d, reader_key='radiologist')
    assert m.reads[0].readers.tolist() == ['1', '2']
    assert m.reads[0].image_readers == ['1', '2', '3']


def test_dump_and_load_round_trip(tmp_path):
    src = load_multi_reader_coco(base_coco())
    fused = [FusedBoxes([[10.5, 20.25, 40.0, 60.0]], [1], [2 / 3], [2]),
             FusedBoxes(np.zeros((0, 4)), [], [], [])]
    out = tmp_path / 'out' / 'fused.json'
    written = dump_fused_coco(src, fused, out, dict(type='WBF', iou_thr=0.4))
    on_disk = json.loads(out.read_text())
    assert on_disk == json.loads(json.dumps(written))
    a = on_disk['annotations'][0]
    assert a['bbox'] == [10.5, 20.25, 29.5, 39.75]
    assert a['category_id'] == 3 and a['iscrowd'] == 0 and a['agreement'] == 2
    assert a['area'] == pytest.approx(29.5 * 39.75)
    assert a['confidence'] == pytest.approx(2 / 3, abs=1e-6)
    assert 'score' not in a   # a fused truth file is not a COCO results file
    assert on_disk['images'][0]['readers'] == ['R1', 'R2', 'R3']
    assert on_disk['info']['fusion']['type'] == 'WBF'
    assert on_disk['info']['fusion']['iou_thr'] == 0.4
    assert on_disk['info']['fusion']['input_boxes'] == 4

    back = load_multi_reader_coco(out)
    assert back.kind == 'fused'
    assert back.cat_ids == src.cat_ids
    np.testing.assert_allclose(back.reads[0].boxes, fused[0].boxes, rtol=0, atol=1e-5)
    np.testing.assert_array_equal(back.reads[0].labels, fused[0].labels)
    np.testing.assert_allclose(back.confidences[0], fused[0].confidences)
    np.testing.assert_array_equal(back.agreements[0], [2])
    assert back.reads[0].readers.tolist() == [FUSED_READER]
    assert back.reads[0].image_readers == ['R1', 'R2', 'R3']
    assert len(back.reads[1]) == 0


def test_fused_file_validation():
    d = base_coco()
    for a in d['annotations']:
        a.pop('reader')
        a.update(confidence=0.5, agreement=1)
    assert load_multi_reader_coco(copy.deepcopy(d)).kind == 'fused'
    # files of earlier versions call the confidence "score"
    legacy = copy.deepcopy(d)
    for a in legacy['annotations']:
        a['score'] = a.pop('confidence')
    back = load_multi_reader_coco(legacy)
    assert back.kind == 'fused' and back.confidences[0].tolist() == [0.5] * len(back.reads[0])
    d['annotations'][1]['confidence'] = 1.5
    with pytest.raises(ValueError, match='annotation id 11 .*confidence 1.5 outside'):
        load_multi_reader_coco(d)
    d['annotations'][1].update(confidence=0.5, agreement=0)
    with pytest.raises(ValueError, match='annotation id 11 .*agreement'):
        load_multi_reader_coco(d)
    d['annotations'][1].pop('agreement')
    with pytest.raises(ValueError, match='annotation id 11 .*no "confidence"/"agreement"'):
        load_multi_reader_coco(d)


def test_crowd_boxes_are_counted_drops():
    d = base_coco()
    d['annotations'].append(ann(20, 1, [10, 10, 5, 5], 'R3', iscrowd=1))
    m = load_multi_reader_coco(d)
    assert m.drops.counts['iscrowd'] == 1 and m.num_boxes == 4
