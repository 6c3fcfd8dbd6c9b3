"""Bad data and annotations: nothing lost, nothing silent, every crash a clear error.

One case per row of docs/bad_input.md, "Data and annotations": each bad input
either stops with an error naming the file and the record, or is dropped and
counted in the summary. Cases that were already clear stay here so they stay so.
"""
import copy
import csv
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import warnings

import cv2
import numpy as np
import pytest
from mmengine.registry import init_default_scope

import mmmulti  # noqa: F401
from mmmulti.converters import VinDrFormatError, convert_vindr_csv
from mmmulti.datasets import MultiAnnotatorCocoDataset
from mmmulti.datasets.fusion_cache import load_fused
from mmmulti.fusion import ImageReads
from mmmulti.io import load_multi_reader_coco
from mmmulti.registry import FUSION_METHODS, TRANSFORMS

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
SIZE = 64
CATS = [dict(id=1, name='nodule')]
HEADER = ['image_id', 'class_name', 'class_id', 'rad_id',
          'x_min', 'y_min', 'x_max', 'y_max', 'width', 'height']


@pytest.fixture(autouse=True)
def _scope():
    init_default_scope('mmmulti')


def coco(images=None, anns=None):
    """One image read by R1, R2, R3; R1 and R2 drew the same nodule."""
    images = images if images is not None else [
        dict(id=1, file_name='a.png', width=SIZE, height=SIZE, readers=['R1', 'R2', 'R3'])]
    anns = anns if anns is not None else [
        dict(id=1, image_id=1, category_id=1, bbox=[10, 10, 20, 20], reader='R1'),
        dict(id=2, image_id=1, category_id=1, bbox=[11, 10, 20, 21], reader='R2')]
    return dict(images=images, annotations=anns, categories=CATS)


def write_json(tmp_path, data, name='train.json'):
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return str(path)


def write_images(tmp_path, data, size=None, folder='images'):
    img_dir = tmp_path / folder
    img_dir.mkdir(exist_ok=True)
    for im in data['images']:
        w, h = size or (im['width'], im['height'])
        cv2.imwrite(str(img_dir / im['file_name']), np.full((h, w, 3), 128, np.uint8))
    return str(img_dir) + '/'


def dataset(ann_file, img_dir, tmp_path, **kw):
    kw.setdefault('pipeline', [])
    kw.setdefault('serialize_data', False)
    return MultiAnnotatorCocoDataset(ann_file=ann_file, data_prefix=dict(img=img_dir),
                                     cache_dir=str(tmp_path / 'cache'), **kw)


def write_csv(path, rows, header=HEADER, encoding='utf-8'):
    with open(path, 'w', newline='', encoding=encoding) as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return str(path)


def finding(image_id, rad, box, cid=8):
    return [image_id, 'Nodule/Mass', cid, rad, *box, 100, 100]


def no_finding(image_id, rad, coord=''):
    return [image_id, 'No finding', 14, rad, coord, coord, coord, coord, 100, 100]


# -- item 3: agreement counts distinct readers ------------------------------------

@pytest.mark.parametrize('method', [
    dict(type='WBF'), dict(type='WBF', reader_weights={'R1': 2.0}),
    dict(type='ReliabilityWBF', max_iter=2), dict(type='MajorityVote'),
    dict(type='NMS'), dict(type='NMW')])
def test_reader_drawing_a_finding_twice_votes_once(method):
    """2 of 3 readers drew the finding, one of them twice (overlapping, not
    identical): agreement 2, confidence 2/3, whatever the method."""
    boxes = [[10, 10, 30, 30], [11, 11, 31, 31], [10, 11, 30, 31]]
    reads = ImageReads(boxes, [0, 0, 0], ['R1', 'R1', 'R2'], ['R1', 'R2', 'R3'], 64, 64)
    fused = FUSION_METHODS.build(method).fuse_dataset([reads])[0]
    assert len(fused) >= 1
    top = int(np.argmax(fused.agreement))
    assert fused.agreement[top] == 2
    if method['type'] != 'ReliabilityWBF':   # reliability weights the readers
        assert fused.confidences[top] == pytest.approx(2 / 3)


def test_wbf_coordinates_still_average_both_boxes_of_one_reader():
    reads = ImageReads([[10, 10, 30, 30], [12, 12, 32, 32]], [0, 0], ['R1', 'R1'],
                       ['R1', 'R2'], 64, 64)
    out = FUSION_METHODS.build(dict(type='WBF')).fuse(reads)
    np.testing.assert_allclose(out.boxes, [[11, 11, 31, 31]], atol=1e-4)
    assert out.agreement.tolist() == [1] and out.confidences.tolist() == [0.5]


def test_exact_duplicate_box_is_dropped_and_counted(tmp_path):
    """A duplicated row: R1's box twice. Dropped, counted, agreement 2 of 3."""
    data = coco()
    data['annotations'].append(dict(id=3, image_id=1, category_id=1,
                                    bbox=[10, 10, 20, 20], reader='R1'))
    src = load_multi_reader_coco(write_json(tmp_path, data))
    assert src.drops.counts['duplicate'] == 1
    assert 'same box as annotation id 1' in str(src.drops)
    assert len(src.reads[0]) == 2
    fused = FUSION_METHODS.build(dict(type='WBF')).fuse_dataset(src.reads)[0]
    assert fused.agreement.tolist() == [2]
    assert fused.confidences.tolist() == pytest.approx([2 / 3])


def test_fuse_tool_summary_reports_duplicates(tmp_path):
    data = coco()
    data['annotations'].append(dict(id=3, image_id=1, category_id=1,
                                    bbox=[10, 10, 20, 20], reader='R1'))
    inp = write_json(tmp_path, data)
    out = subprocess.run([sys.executable, osp.join(REPO, 'tools', 'fuse_annotations.py'),
                          inp, str(tmp_path / 'fused.json')],
                         capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert 'duplicate' in out.stdout and '2/3' in out.stdout
    fused = json.loads((tmp_path / 'fused.json').read_text())
    assert [a['agreement'] for a in fused['annotations']] == [2]


# -- item 6: unread images are not negatives --------------------------------------

def test_unread_image_is_dropped_not_trained_as_background(tmp_path):
    data = coco()
    data['images'].append(dict(id=2, file_name='b.png', width=SIZE, height=SIZE,
                               readers=[]))
    ann = write_json(tmp_path, data)
    ds = dataset(ann, write_images(tmp_path, data), tmp_path,
                 filter_cfg=dict(filter_empty_gt=False))
    assert [ds.get_data_info(i)['img_id'] for i in range(len(ds))] == [1]
    assert ds.stats['images_unread'] == 1
    assert '1 unread' in ds.summary()


def test_truth_file_without_readers_keeps_its_negatives(tmp_path):
    """Single-truth COCO (no readers keys at all): a box-less image is a negative."""
    data = coco(images=[dict(id=1, file_name='a.png', width=SIZE, height=SIZE),
                        dict(id=2, file_name='b.png', width=SIZE, height=SIZE)],
                anns=[dict(id=1, image_id=1, category_id=1, bbox=[10, 10, 20, 20])])
    ann = write_json(tmp_path, data)
    ds = dataset(ann, write_images(tmp_path, data), tmp_path,
                 filter_cfg=dict(filter_empty_gt=False))
    assert len(ds) == 2 and ds.stats['images_unread'] == 0


def test_fused_file_without_readers_keeps_its_negatives(tmp_path):
    data = coco(images=[dict(id=1, file_name='a.png', width=SIZE, height=SIZE),
                        dict(id=2, file_name='b.png', width=SIZE, height=SIZE)],
                anns=[dict(id=1, image_id=1, category_id=1, bbox=[10, 10, 20, 20],
                           confidence=0.5, agreement=1)])
    src = load_multi_reader_coco(write_json(tmp_path, data))
    assert src.kind == 'fused' and [im['readers'] for im in src.images] == [['fused']] * 2


def test_reader_restriction_leaving_no_reader_skips_the_image(tmp_path):
    data = coco()
    data['images'].append(dict(id=2, file_name='b.png', width=SIZE, height=SIZE,
                               readers=['R3']))
    ds = dataset(write_json(tmp_path, data), write_images(tmp_path, data), tmp_path,
                 readers=['R1'])
    assert len(ds) == 1 and ds.stats['images_unread'] == 1


# -- item 7: crashes become clear errors --------------------------------------------

def test_non_utf8_json_names_the_file_and_line(tmp_path):
    path = tmp_path / 'latin1.json'
    text = json.dumps(coco(), indent=1).replace('"a.png"', '"\u00e9.png"')
    path.write_bytes(text.encode('latin-1'))
    with pytest.raises(ValueError, match=r'latin1\.json: line \d+: not UTF-8'):
        load_multi_reader_coco(str(path))


def test_json_with_utf8_bom_loads(tmp_path):
    path = tmp_path / 'bom.json'
    path.write_bytes(b'\xef\xbb\xbf' + json.dumps(coco()).encode())
    assert load_multi_reader_coco(str(path)).num_boxes == 2


@pytest.mark.parametrize('mutate, message', [
    (lambda d: d['annotations'][0].update(id=[1, 2]),
     r'train\.json: annotation #0 \(image 1\): id \[1, 2\] must be an integer'),
    (lambda d: d['annotations'][0].update(image_id=[1]),
     r'annotation id 1 \(image \[1\]\): image_id \[1\] must be an integer'),
    (lambda d: d['annotations'][0].update(category_id=1.5),
     r'annotation id 1 \(image 1\): category_id 1\.5 must be an integer'),
    (lambda d: d['images'][0].update(width='64'),
     r"train\.json: image 1: width '64'.*must be JSON numbers"),
    (lambda d: d['images'][0].update(id={'a': 1}),
     r"train\.json: image #0: id \{'a': 1\} must be an integer"),
    # already clear, kept so
    (lambda d: d['annotations'][1].update(reader='R9'),
     r"annotation id 2 \(image 1\): reader 'R9' is not in the image's readers"),
    (lambda d: d['annotations'][1].update(category_id=7),
     r'annotation id 2 \(image 1\): unknown category id 7'),
    (lambda d: d['annotations'][1].update(id=1),
     r'annotation id 1 \(image 1\): duplicate annotation id 1'),
])
def test_malformed_records_are_clear_errors(tmp_path, mutate, message):
    data = coco()
    mutate(data)
    with pytest.raises(ValueError, match=message):
        load_multi_reader_coco(write_json(tmp_path, data))


def test_filter_emptying_the_training_set_is_a_clear_error(tmp_path):
    data = coco(anns=[])
    ann = write_json(tmp_path, data)
    with pytest.raises(ValueError, match=r'train\.json: 0 images left after filter_cfg'):
        dataset(ann, write_images(tmp_path, data), tmp_path,
                filter_cfg=dict(filter_empty_gt=True))


def test_all_images_unread_is_a_clear_error(tmp_path):
    data = coco(images=[dict(id=1, file_name='a.png', width=SIZE, height=SIZE,
                             readers=[])], anns=[])
    ann = write_json(tmp_path, data)
    with pytest.raises(ValueError, match=r'train\.json: 0 images to load: 1 of its 1 '
                                         r'images are unread'):
        dataset(ann, write_images(tmp_path, data), tmp_path)


def test_truncated_fusion_cache_is_a_warned_miss(tmp_path):
    data = coco()
    ann, img_dir = write_json(tmp_path, data), write_images(tmp_path, data)
    first = dataset(ann, img_dir, tmp_path, fusion=dict(type='WBF'))
    assert first.cache_hit is False
    raw = open(first.cache_file, 'rb').read()
    with open(first.cache_file, 'wb') as f:
        f.write(raw[:len(raw) // 2])
    with pytest.warns(UserWarning, match=f'fusion cache {first.cache_file} is unreadable'):
        again = dataset(ann, img_dir, tmp_path, fusion=dict(type='WBF'))
    assert again.cache_hit is False
    assert [d['instances'] for d in (again.get_data_info(0),)] == \
        [first.get_data_info(0)['instances']]
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        assert dataset(ann, img_dir, tmp_path, fusion=dict(type='WBF')).cache_hit is True
    assert load_fused(str(tmp_path / 'missing.npz'), 'key') is None   # plain miss, no warning


def test_png_whose_size_differs_from_its_record_is_refused(tmp_path):
    data = coco()
    ann = write_json(tmp_path, data)
    img_dir = write_images(tmp_path, data, size=(2 * SIZE, SIZE))
    ds = dataset(ann, img_dir, tmp_path,
                 pipeline=[dict(type='LoadImageCheckSize'), dict(type='LoadMultiReaderAnnotations')])
    with pytest.raises(ValueError, match=r'a\.png \(img_id 1\): the image is 128x64 px but '
                                         r'its annotation record says 64x64'):
        ds[0]
    ok = dataset(ann, write_images(tmp_path, data, folder='good'), tmp_path,
                 pipeline=[dict(type='LoadImageCheckSize')])
    assert ok[0]['img'].shape[:2] == (SIZE, SIZE)
    unchecked = TRANSFORMS.build(dict(type='LoadImageCheckSize', check_size=False))
    res = unchecked(dict(img_path=osp.join(img_dir, 'a.png'), width=SIZE, height=SIZE))
    assert res['img'].shape[:2] == (SIZE, 2 * SIZE)


# -- item 8: converter input found in real VinDr CSVs --------------------------------

def test_csv_with_bom_and_nan_no_finding_coordinates(tmp_path):
    path = write_csv(tmp_path / 'train.csv',
                     [finding('img1', 'R1', [10, 10, 30, 30]),
                      no_finding('img1', 'R2', 'nan'), no_finding('img2', 'R1', 'NaN')],
                     encoding='utf-8-sig')
    out, summary = convert_vindr_csv(path, progress=False)
    assert [im['readers'] for im in out['images']] == [['R1', 'R2'], ['R1']]
    assert len(out['annotations']) == 1 and summary.no_finding_reads == 2


def test_nan_coordinates_on_a_finding_row_are_still_an_error(tmp_path):
    path = write_csv(tmp_path / 'train.csv', [finding('img1', 'R1', ['nan'] * 4)])
    with pytest.raises(VinDrFormatError, match=r'train\.csv: line 2 \(image img1\): '
                                               r"finding 'Nodule/Mass' has no coordinates"):
        convert_vindr_csv(path, progress=False)


def test_header_only_csv_is_an_error(tmp_path):
    path = write_csv(tmp_path / 'train.csv', [])
    with pytest.raises(VinDrFormatError, match=r'train\.csv: no rows after the header'):
        convert_vindr_csv(path, progress=False)


def test_non_utf8_csv_names_the_file_and_line(tmp_path):
    path = tmp_path / 'train.csv'
    write_csv(path, [finding('img1', 'R1', [10, 10, 30, 30]),
                     finding('img\u00e9', 'R1', [10, 10, 30, 30])], encoding='latin-1')
    with pytest.raises(VinDrFormatError, match=r'train\.csv: line 3: not UTF-8'):
        convert_vindr_csv(str(path), progress=False)


def test_no_finding_and_a_box_by_one_reader_is_reported(tmp_path):
    path = write_csv(tmp_path / 'train.csv',
                     [no_finding('img1', 'R1'), finding('img1', 'R1', [10, 10, 30, 30]),
                      finding('img1', 'R2', [11, 10, 31, 30])])
    out, summary = convert_vindr_csv(path, progress=False)
    assert summary.no_finding_and_box == 1
    assert 'R1 on image img1' in summary.format()
    assert len(out['annotations']) == 2           # the box is kept


def test_duplicated_csv_rows_are_dropped_and_agreement_is_two_of_three(tmp_path):
    rows = [finding('img1', 'R1', [10, 10, 30, 30]), finding('img1', 'R1', [10, 10, 30, 30]),
            finding('img1', 'R2', [11, 10, 31, 30]), no_finding('img1', 'R3'),
            no_finding('img1', 'R3')]
    out, summary = convert_vindr_csv(write_csv(tmp_path / 'train.csv', rows), progress=False)
    assert summary.duplicate_rows == 2
    assert '2 duplicate rows' in summary.format() and 'line 3 repeats line 2' in \
        summary.format()
    src = load_multi_reader_coco(out)
    fused = FUSION_METHODS.build(dict(type='WBF')).fuse_dataset(src.reads)[0]
    assert fused.agreement.tolist() == [2]
    assert fused.confidences.tolist() == pytest.approx([2 / 3])


def test_already_clear_csv_errors_stay_clear(tmp_path):
    path = write_csv(tmp_path / 'train.csv', [finding('img1', '', [10, 10, 30, 30])])
    with pytest.raises(VinDrFormatError, match=r'train\.csv: line 2 \(image img1\): '
                                               r'missing rad_id'):
        convert_vindr_csv(path, progress=False)


# -- item 9: real DICOM files --------------------------------------------------------

def _pydicom_files():
    pydicom = pytest.importorskip('pydicom')
    return osp.join(osp.dirname(pydicom.__file__), 'data', 'test_files')


#: (file in pydicom's test data, what it exercises)
REAL_DICOMS = [
    ('SC_rgb_jpeg.dcm', 'JPEG baseline (colour, to luma)'),
    ('JPGExtended.dcm', 'JPEG extended 12-bit'),
    ('MR_small_jpeg_ls_lossless.dcm', 'JPEG-LS lossless'),
    ('JPEGLSNearLossless_16.dcm', 'JPEG-LS near-lossless'),
    ('JPEG2000.dcm', 'JPEG 2000'),
    ('MR_small_jp2klossless.dcm', 'JPEG 2000 lossless'),
    ('MR_small_RLE.dcm', 'RLE lossless'),
    ('CT_small.dcm', 'uncompressed'),
]


def _dicom_folder(tmp_path, names):
    src = _pydicom_files()
    folder = tmp_path / 'dicoms'
    folder.mkdir(exist_ok=True)
    rows = []
    for k, name in enumerate(names):
        if not osp.exists(osp.join(src, name)):
            pytest.skip(f'{name} not shipped by this pydicom')
        shutil.copy(osp.join(src, name), folder / f'im{k}.dcm')
        rows.append([f'im{k}', 'No finding', 14, 'R1', '', '', '', ''])
    csv_path = write_csv(tmp_path / 'train.csv', rows, header=HEADER[:8])
    return csv_path, str(folder)


def test_real_dicoms_convert_to_pngs_of_their_size(tmp_path):
    import pydicom
    from PIL import Image
    names = [n for n, _ in REAL_DICOMS]
    csv_path, folder = _dicom_folder(tmp_path, names)
    png_out = tmp_path / 'png'
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')   # pydicom warns on odd but valid headers
        out, summary = convert_vindr_csv(csv_path, image_dir=folder, png_out=str(png_out),
                                         progress=False)
    assert summary.pngs_written == len(names) and not summary.bad_images
    for k, name in enumerate(names):
        ds = pydicom.dcmread(osp.join(folder, f'im{k}.dcm'), stop_before_pixels=True)
        with Image.open(png_out / f'im{k}.png') as im:
            assert im.size == (ds.Columns, ds.Rows), name
            assert im.mode == 'L'
        assert out['images'][k]['width'] == ds.Columns


def test_undecodable_dicom_is_a_clear_error_or_skipped_and_listed(tmp_path):
    names = ['MR_small_RLE.dcm', 'JPEG-lossy.dcm', 'CT_small.dcm']
    csv_path, folder = _dicom_folder(tmp_path, names)
    png_out = str(tmp_path / 'png')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        with pytest.raises(VinDrFormatError, match=r'(?s)im1\.dcm: cannot decode DICOM pixels.*'
                                                   r'--skip-bad'):
            convert_vindr_csv(csv_path, image_dir=folder, png_out=png_out, progress=False)
        out, summary = convert_vindr_csv(csv_path, image_dir=folder, png_out=png_out,
                                         progress=False, skip_bad=True)
    assert [im['vindr_id'] for im in out['images']] == ['im0', 'im2']
    assert [osp.basename(p) for p, _ in summary.bad_images] == ['im1.dcm']
    assert 'skipped (cannot read):' in summary.format() and 'im1.dcm' in summary.format()
    # im0 was finished by the failed first run: kept, not decoded again
    assert summary.pngs_kept == 1 and summary.pngs_written == 1


def test_rerun_keeps_finished_pngs(tmp_path, monkeypatch):
    csv_path, folder = _dicom_folder(tmp_path, ['MR_small_RLE.dcm', 'CT_small.dcm'])
    png_out = str(tmp_path / 'png')
    convert_vindr_csv(csv_path, image_dir=folder, png_out=png_out, progress=False)
    stamp = os.stat(osp.join(png_out, 'im0.png')).st_mtime_ns

    def no_decoding(path):
        raise AssertionError(f'{path} decoded again')
    import mmmulti.converters.vindr_images as vindr  # where PNGs are decoded
    monkeypatch.setattr(vindr, 'load_gray_uint8', no_decoding)
    out, summary = convert_vindr_csv(csv_path, image_dir=folder, png_out=png_out,
                                     progress=False)
    assert summary.pngs_kept == 2 and summary.pngs_written == 0
    assert os.stat(osp.join(png_out, 'im0.png')).st_mtime_ns == stamp
    assert [im['file_name'] for im in out['images']] == ['im0.png', 'im1.png']


def test_converter_tool_prints_a_clear_error(tmp_path):
    path = write_csv(tmp_path / 'train.csv', [])
    out = subprocess.run([sys.executable, osp.join(REPO, 'tools', 'dataset_converters',
                                                   'vindr_cxr_to_coco.py'),
                          path, '--out', str(tmp_path / 'out.json')],
                         capture_output=True, text=True, cwd=REPO)
    assert out.returncode != 0
    assert out.stderr.strip().splitlines()[-1] == f'error: {path}: no rows after the header'
    assert 'Traceback' not in out.stderr


def test_vindr_converter_refuses_to_write_over_its_csv(tmp_path):
    """The CSV is the readers' only copy: --out naming it is refused, CSV untouched."""
    import subprocess
    import sys
    from conftest import REPO
    csv_path = tmp_path / 'train.csv'
    text = ('image_id,class_name,class_id,rad_id,x_min,y_min,x_max,y_max\n'
            'a,No finding,14,R1,,,,\n')
    csv_path.write_text(text)
    proc = subprocess.run([sys.executable, 'tools/dataset_converters/vindr_cxr_to_coco.py',
                           str(csv_path), '--out', str(csv_path)],
                          cwd=REPO, capture_output=True, text=True)
    assert proc.returncode != 0
    assert 'is the input CSV' in proc.stderr
    assert csv_path.read_text() == text
