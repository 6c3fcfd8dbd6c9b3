"""Lenient parsing that read a bad value as a good one (issue 28, "silent wrong").

Readers' COCO files and VinDr CSVs: each value Python would coerce into
something plausible (``true`` -> 1, ``"1_00"`` -> 100, a missing file name ->
the image id) is refused with the file and the record named; a box that would
be written with zero area is dropped and counted. docs/bad_input.md lists
each case with its outcome.
"""
import csv
import json

import pytest

from mmmulti.converters import VinDrFormatError, convert_vindr_csv
from mmmulti.io import load_multi_reader_coco

HEADER = ['image_id', 'class_name', 'class_id', 'rad_id', 'x_min', 'y_min', 'x_max',
          'y_max', 'width', 'height']
CATS = [dict(id=1, name='nodule')]


def _coco(**image):
    im = dict(id=1, file_name='a.png', width=64, height=64, readers=['R1', 'R2'])
    im.update(image)
    im = {k: v for k, v in im.items() if v is not None}
    anns = [dict(id=1, image_id=1, category_id=1, bbox=[10, 10, 20, 20], reader='R1'),
            dict(id=2, image_id=1, category_id=1, bbox=[11, 10, 20, 21], reader='R2')]
    return dict(images=[im], annotations=anns, categories=CATS)


def _write(tmp_path, data):
    path = tmp_path / 'train.json'
    path.write_text(json.dumps(data))
    return str(path)


# -- readers' COCO file --------------------------------------------------------

@pytest.mark.parametrize('bbox', [[True, True, True, True], [10, 10, '20', 20],
                                  [10, None, 20, 20], '1234'])
def test_bbox_that_is_not_four_json_numbers_is_refused(bbox, tmp_path):
    data = _coco()
    data['annotations'][0]['bbox'] = bbox
    with pytest.raises(ValueError, match=r'train\.json: annotation id 1 \(image 1\): bbox '
                                         r'must be (four JSON numbers|\[x, y, w, h\])'):
        load_multi_reader_coco(_write(tmp_path, data))


def test_integer_and_float_bboxes_still_load(tmp_path):
    data = _coco()
    data['annotations'][1]['bbox'] = [11.5, 10.25, 20.0, 21]
    reads = load_multi_reader_coco(_write(tmp_path, data)).reads[0]
    assert reads.boxes.tolist() == [[10, 10, 30, 30], [11.5, 10.25, 31.5, 31.25]]


@pytest.mark.parametrize('file_name, message', [
    (None, 'has no file_name'), (1, "file_name 1 is not a non-empty string"),
    ('', "file_name '' is not a non-empty string"),
    (['a.png'], r"file_name \['a.png'\] is not a non-empty string")])
def test_image_without_a_file_name_string_is_refused(file_name, message, tmp_path):
    """Was: named after its id ("1"), and so trained on whatever 1 pointed to."""
    data = _coco(file_name=file_name)
    if file_name is None:
        data['images'][0].pop('file_name', None)
    with pytest.raises(ValueError, match=rf'train\.json: image 1: {message}'):
        load_multi_reader_coco(_write(tmp_path, data))


def test_fuse_tool_names_the_image_without_file_name(tmp_path, capsys):
    from bad_input_tools import refused
    data = _coco()
    data['images'][0].pop('file_name')
    src = _write(tmp_path, data)
    refused('tools/fuse_annotations.py', [src, tmp_path / 'fused.json'], capsys,
            'train.json: image 1: has no file_name')


# -- VinDr CSV -----------------------------------------------------------------

def _csv(tmp_path, rows, header=HEADER):
    path = tmp_path / 'train.csv'
    with open(path, 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return str(path)


def _row(box, image='img1', rad='R1', size=(100, 100), cid='8'):
    return [image, 'Nodule/Mass', cid, rad, *box, *size]


@pytest.mark.parametrize('cell', ['1_00', '0x10', 'infinity', '1e', '١٠'])
def test_coordinate_that_is_not_a_decimal_number_is_refused(cell, tmp_path):
    """Python's float() reads '1_00' as 100 and '١٠' as 10: typos became boxes."""
    path = _csv(tmp_path, [_row([10, 10, cell, 30])])
    with pytest.raises(VinDrFormatError, match=r'train\.csv: line 2 \(image img1\): x_max is '):
        convert_vindr_csv(path, progress=False)


def test_class_id_with_an_underscore_is_refused(tmp_path):
    path = _csv(tmp_path, [_row([10, 10, 30, 30], cid='0_8')])
    with pytest.raises(VinDrFormatError, match=r"line 2 \(image img1\): class_id '0_8' is not "
                                               'a number'):
        convert_vindr_csv(path, progress=False)


def test_plain_numbers_in_every_spelling_still_convert(tmp_path):
    path = _csv(tmp_path, [_row(['10', '10.5', '3e1', '+30.'], size=('100', '100.0'))])
    coco, _ = convert_vindr_csv(path, progress=False)
    assert coco['annotations'][0]['bbox'] == [10.0, 10.5, 20.0, 19.5]
    assert (coco['images'][0]['width'], coco['images'][0]['height']) == (100, 100)


def test_duplicated_header_column_is_refused(tmp_path):
    """csv.DictReader kept the second x_max's value, silently."""
    header = HEADER[:7] + ['x_max'] + HEADER[7:]
    path = _csv(tmp_path, [['img1', 'Nodule/Mass', 8, 'R1', 10, 10, 30, 99, 30, 100, 100]],
                header=header)
    with pytest.raises(VinDrFormatError, match=r"train\.csv: line 1: column\(s\) \['x_max'\] "
                                               'appear more than once'):
        convert_vindr_csv(path, progress=False)


@pytest.mark.parametrize('size', [('1000.9', '800'), ('1000', '800.5')])
def test_width_that_is_not_a_whole_pixel_count_is_refused(size, tmp_path):
    """Was: written as int(1000.9) = 1000, the boxes scaled against the wrong size."""
    path = _csv(tmp_path, [_row([10, 10, 30, 30], size=size)])
    with pytest.raises(VinDrFormatError, match=r'line 2 \(image img1\): width/height .* must '
                                               'be whole numbers of pixels'):
        convert_vindr_csv(path, progress=False)


def test_box_thinner_than_the_written_resolution_is_dropped_and_counted(tmp_path):
    """100 -> 100.001 was written as a box of width 0 while the summary said
    "dropped: nothing"."""
    path = _csv(tmp_path, [_row([100 - 50, 10, 50.001, 30]), _row([10, 10, 30, 30], rad='R2')])
    coco, summary = convert_vindr_csv(path, progress=False)
    assert summary.dropped_below_resolution == 1
    assert len(coco['annotations']) == 1
    assert all(a['bbox'][2] > 0 and a['bbox'][3] > 0 and a['area'] > 0
               for a in coco['annotations'])
    assert '1 boxes under 0.01 px wide or high' in summary.format()
    assert coco['images'][0]['readers'] == ['R1', 'R2']  # R1 still read the image


def test_written_area_is_the_written_boxes_area(tmp_path):
    """A 0.01 px-wide box keeps a positive area (it was rounded to 0.00)."""
    path = _csv(tmp_path, [_row([10, 10, 10.01, 30.4])])
    coco, _ = convert_vindr_csv(path, progress=False)
    (ann,) = coco['annotations']
    assert ann['bbox'][2:] == [0.01, 20.4] and ann['area'] == pytest.approx(0.204)
