"""VinDr-CXR converter: CSV -> multi-reader COCO round trip, errors, drops, DICOM -> PNG."""
import csv
import json
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from mmmulti.converters import (VINDR_CLASSES, VinDrFormatError, convert_vindr_csv,
                                split_coco_by_image)
from mmmulti.converters.dicom import dicom_to_uint8, read_image_size
from mmmulti.io import load_multi_reader_coco

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
HEADER = ['image_id', 'class_name', 'class_id', 'rad_id', 'x_min', 'y_min', 'x_max', 'y_max']


def write_csv(path, rows, header=HEADER):
    with open(path, 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return str(path)


def finding(image_id, cid, rad, box, *size):
    return [image_id, VINDR_CLASSES[cid], cid, rad, *box, *size]


def no_finding(image_id, rad, *size):
    return [image_id, 'No finding', 14, rad, '', '', '', '', *size]


def write_dicom(path, arr, photometric, center=None, width=None, bits=12):
    import pydicom
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Rows, ds.Columns = arr.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, bits, bits - 1
    ds.PixelRepresentation = 0
    if center is not None:
        ds.WindowCenter, ds.WindowWidth = center, width
    ds.PixelData = arr.astype('<u2').tobytes()
    if int(pydicom.__version__.split('.')[0]) >= 3:
        ds.save_as(str(path), enforce_file_format=True)
    else:  # pragma: no cover - pydicom 2.x
        ds.is_little_endian, ds.is_implicit_VR = True, False
        ds.save_as(str(path), write_like_original=False)
    return str(path)


# --------------------------------------------------------------------------- round trip
def test_round_trip_multi_reader_with_no_finding(tmp_path):
    rows = [
        finding('img_a', 3, 'R9', (10, 20, 50, 60), 100, 80),
        finding('img_a', 3, 'R10', (12, 22, 52, 58), 100, 80),
        finding('img_a', 0, 'R10', (30.5, 5, 40, 15.25), 100, 80),
        no_finding('img_a', 'R8', 100, 80),            # read, drew nothing
        no_finding('img_b', 'R8', 64, 64),
        no_finding('img_b', 'R9', 64, 64),
        finding('img_c', 8, 'R2', (1, 2, 3, 4), 32, 32),
        finding('img_c', 13, 'R2', (5, 6, 30, 31), 32, 32),
    ]
    path = write_csv(tmp_path / 'train.csv', rows, HEADER + ['width', 'height'])
    coco, summary = convert_vindr_csv(path, progress=False)
    assert summary.images == 3 and summary.boxes == 5
    assert summary.no_finding_reads == 3          # R8 on a, R8 and R9 on b
    assert dict(summary.reader_images) == {'R2': 1, 'R8': 2, 'R9': 2, 'R10': 1}
    assert [c['name'] for c in coco['categories']] == list(VINDR_CLASSES)
    assert [c['id'] for c in coco['categories']] == list(range(14))

    loaded = load_multi_reader_coco(coco)
    assert loaded.kind == 'multi_reader' and loaded.drops.total == 0
    by_name = {im['vindr_id']: (im, r) for im, r in zip(loaded.images, loaded.reads)}
    im, reads = by_name['img_a']
    assert im['readers'] == ['R8', 'R9', 'R10'] and (im['width'], im['height']) == (100, 80)
    got = sorted(zip(reads.readers.tolist(), reads.labels.tolist(),
                     map(tuple, reads.boxes.tolist())))
    assert got == sorted([('R9', 3, (10, 20, 50, 60)), ('R10', 3, (12, 22, 52, 58)),
                          ('R10', 0, (30.5, 5, 40, 15.25))])
    im, reads = by_name['img_b']
    assert im['readers'] == ['R8', 'R9'] and len(reads) == 0 and reads.num_readers == 2
    im, reads = by_name['img_c']
    assert reads.image_readers == ['R2'] and sorted(reads.labels.tolist()) == [8, 13]
    assert 'no-finding reads:  3' in summary.format()


# --------------------------------------------------------------------------- bad rows
@pytest.mark.parametrize('row, message', [
    (['img', 'Cardiomegaly', 3, '', 1, 1, 5, 5], 'line 3 .*missing rad_id'),
    (['img', 'Lung cyst', 22, 'R1', 1, 1, 5, 5], 'line 3 .*unknown class'),
    (['img', 'Cardiomegaly', 4, 'R1', 1, 1, 5, 5], 'line 3 .*class_id is 4'),
    (['img', 'Cardiomegaly', 3, 'R1', 1, 'nan', 5, 5], 'line 3 .*y_min'),
    (['img', 'Cardiomegaly', 3, 'R1', '', '', '', ''], 'line 3 .*no coordinates'),
    (['img', 'Cardiomegaly', 3, 'R1', 9, 1, 5, 5], 'line 3 .*x_max < x_min'),
    (['', 'Cardiomegaly', 3, 'R1', 1, 1, 5, 5], 'line 3: empty image_id'),
])
def test_bad_rows_name_file_and_line(tmp_path, row, message):
    path = write_csv(tmp_path / 'bad.csv', [no_finding('img', 'R0', 10, 10), row + [10, 10]],
                     HEADER + ['width', 'height'])
    with pytest.raises(VinDrFormatError, match='bad.csv: ' + message):
        convert_vindr_csv(path, progress=False)


def test_missing_columns_and_size(tmp_path):
    path = write_csv(tmp_path / 'nocol.csv', [['a', 'No finding', 14]],
                     ['image_id', 'class_name', 'class_id'])
    with pytest.raises(VinDrFormatError, match=r"nocol.csv: missing columns \['rad_id'"):
        convert_vindr_csv(path, progress=False)
    path = write_csv(tmp_path / 'nosize.csv', [no_finding('img_q', 'R1')])
    with pytest.raises(VinDrFormatError, match='nosize.csv: image img_q: no size'):
        convert_vindr_csv(path, progress=False)
    path = write_csv(tmp_path / 'twosize.csv',
                     [no_finding('img', 'R1', 10, 10), no_finding('img', 'R2', 10, 12)],
                     HEADER + ['width', 'height'])
    with pytest.raises(VinDrFormatError, match='twosize.csv: line 3 .*differ'):
        convert_vindr_csv(path, progress=False)


def test_drops_are_counted(tmp_path):
    rows = [
        finding('a', 1, 'R1', (5, 5, 5, 9), 20, 20),       # zero area
        finding('a', 1, 'R1', (25, 25, 30, 30), 20, 20),   # outside
        finding('a', 1, 'R1', (15, 15, 30, 30), 20, 20),   # clipped, kept
        finding('a', 2, 'R2', (1, 1, 4, 4), 20, 20),
        ['a', 'Lung cyst', '', 'R1', 1, 1, 2, 2, 20, 20],  # unknown, dropped on request
        ['a', 'No finding', 14, 'R3', 0, 0, 1, 1, 20, 20],  # Kaggle-style dummy box
        finding('b', 2, 'R4', (1, 1, 4, 4), 20, 20),       # reader not selected
    ]
    path = write_csv(tmp_path / 'd.csv', rows, HEADER + ['width', 'height'])
    coco, s = convert_vindr_csv(path, readers=['R1', 'R2', 'R3'],
                                drop_unknown_classes=True, progress=False)
    assert (s.dropped_zero_area, s.dropped_outside, s.clipped) == (1, 1, 1)
    assert (s.dropped_unknown_class, s.no_finding_coords_ignored) == (1, 1)
    assert (s.rows_other_readers, s.images_without_selected_readers) == (1, 1)
    assert s.rows == 7 and s.boxes == 2 and s.images == 1
    assert sorted(a['bbox'] for a in coco['annotations']) == [[1, 1, 3, 3], [15, 15, 5, 5]]
    text = s.format()
    assert '1 boxes of zero area' in text and '1 boxes outside the image' in text
    coco, s = convert_vindr_csv(path, readers=['R1', 'R2', 'R3'], require_all_readers=True,
                                drop_unknown_classes=True, progress=False)
    assert s.images == 1 and s.images_missing_required_readers == 0
    coco, s = convert_vindr_csv(path, readers=['R1', 'R2', 'R4'], require_all_readers=True,
                                drop_unknown_classes=True, progress=False)
    assert s.images == 0 and s.images_missing_required_readers == 2


# --------------------------------------------------------------------------- sizes / DICOM
def test_dicom_monochrome1_window_to_png(tmp_path):
    values = np.array([[0, 1000, 1500, 1750, 2000, 2250, 2500, 3000, 4095]], np.uint16)
    arr = np.repeat(values, 3, axis=0)
    path = write_dicom(tmp_path / 'm1.dicom', arr, 'MONOCHROME1', center=2000, width=1000)
    out = dicom_to_uint8(path)
    # DICOM linear window (PS3.3 C.11.2.1.2), output 0..4095, then inverted, then 0..255
    c, w, ymax = 2000.0, 1000.0, 4095.0
    x = values[0].astype(float)
    y = ((x - (c - 0.5)) / (w - 1) + 0.5) * ymax
    y = np.where(x <= c - 0.5 - (w - 1) / 2, 0, np.where(x > c - 0.5 + (w - 1) / 2, ymax, y))
    inv = y.max() - y
    expected = np.round(inv * 255 / (inv.max() - inv.min()))
    np.testing.assert_allclose(out[0], expected, atol=1)
    assert out[0, 0] == 255 and out[0, 1] == 255      # below the window: white (inverted)
    assert out[0, -2] == 0 and out[0, -1] == 0         # above the window: black
    assert 120 <= out[0, 4] <= 135                     # window centre: mid grey
    assert (np.diff(out[0].astype(int)) <= 0).all()    # inversion: monotone decreasing

    m2 = write_dicom(tmp_path / 'm2.dcm', arr, 'MONOCHROME2')    # no window: min-max
    np.testing.assert_allclose(dicom_to_uint8(m2)[0], np.round(x * 255 / 4095), atol=1)
    assert read_image_size(path) == (9, 3)


def test_sizes_from_files_png_out_and_max_size(tmp_path):
    img_dir = tmp_path / 'images'
    img_dir.mkdir()
    arr = (np.arange(40 * 60).reshape(40, 60) % 4096).astype(np.uint16)
    write_dicom(img_dir / 'd1.dicom', arr, 'MONOCHROME1', center=2000, width=4000)
    Image.fromarray(np.zeros((50, 30), np.uint8)).save(img_dir / 'p1.png')
    # p2's PNG is half the size of the frame the CSV boxes live in
    Image.fromarray(np.zeros((20, 40), np.uint8)).save(img_dir / 'p2.png')
    rows = [finding('d1', 0, 'R1', (6, 4, 30, 20), '', ''),
            finding('p1', 1, 'R1', (3, 5, 13, 25), '', ''),
            finding('p2', 2, 'R1', (8, 4, 40, 20), 80, 40)]
    path = write_csv(tmp_path / 's.csv', rows, HEADER + ['width', 'height'])
    coco, s = convert_vindr_csv(path, image_dir=str(img_dir), progress=False)
    sizes = {im['vindr_id']: (im['width'], im['height'], im['file_name']) for im in coco['images']}
    assert sizes == {'d1': (60, 40, 'd1.dicom'), 'p1': (30, 50, 'p1.png'),
                     'p2': (40, 20, 'p2.png')}
    boxes = {coco['images'][a['image_id'] - 1]['vindr_id']: a['bbox'] for a in coco['annotations']}
    assert boxes['p2'] == [4, 2, 16, 8] and s.rescaled_to_file == 1

    png_dir = tmp_path / 'png'
    coco, s = convert_vindr_csv(path, image_dir=str(img_dir), png_out=str(png_dir),
                                max_size=30, progress=False)
    assert s.pngs_written == 3
    im = {i['vindr_id']: i for i in coco['images']}
    assert (im['d1']['width'], im['d1']['height'], im['d1']['file_name']) == (30, 20, 'd1.png')
    with Image.open(png_dir / 'd1.png') as f:
        assert f.size == (30, 20) and f.mode == 'L'
    boxes = {coco['images'][a['image_id'] - 1]['vindr_id']: a['bbox'] for a in coco['annotations']}
    assert boxes['d1'] == [3, 2, 12, 8]                # halved with the image
    assert boxes['p1'] == [1.8, 3, 6, 12]              # 50 -> 30: factor 0.6
    with pytest.raises(VinDrFormatError, match='image zz: no DICOM/PNG/JPG file'):
        p = write_csv(tmp_path / 'z.csv', [no_finding('zz', 'R1', 5, 5)],
                      HEADER + ['width', 'height'])
        convert_vindr_csv(p, image_dir=str(img_dir), png_out=str(png_dir), progress=False)


# --------------------------------------------------------------------------- test set, split
def test_consensus_test_csv(tmp_path):
    header = ['image_id', 'class_name', 'x_min', 'y_min', 'x_max', 'y_max', 'width', 'height']
    rows = [['t1', 'Cardiomegaly', 1, 1, 9, 9, 10, 10],
            ['t2', 'No finding', '', '', '', '', 10, 10]]
    coco, s = convert_vindr_csv(write_csv(tmp_path / 'test.csv', rows, header),
                                consensus=True, progress=False)
    assert all('readers' not in im for im in coco['images'])
    assert [a['category_id'] for a in coco['annotations']] == [3]
    assert 'reader' not in coco['annotations'][0]
    assert load_multi_reader_coco(coco).kind == 'single_truth'
    bad = write_csv(tmp_path / 'multi.csv', [finding('t', 1, 'R1', (1, 1, 2, 2), 5, 5),
                                             finding('t', 1, 'R2', (1, 1, 2, 2), 5, 5)],
                    HEADER + ['width', 'height'])
    with pytest.raises(VinDrFormatError, match=r"multi.csv: line 3 .*one rad_id.*\['R1', 'R2'\]"):
        convert_vindr_csv(bad, consensus=True, progress=False)


def test_split_by_image():
    coco = dict(images=[dict(id=i) for i in range(1, 21)],
                annotations=[dict(id=k, image_id=1 + k % 20) for k in range(50)], categories=[])
    tr, va = split_coco_by_image(coco, 0.25, seed=3)
    assert len(va['images']) == 5 and len(tr['images']) == 15
    ids_tr = {im['id'] for im in tr['images']}
    ids_va = {im['id'] for im in va['images']}
    assert not ids_tr & ids_va
    assert all(a['image_id'] in ids_va for a in va['annotations'])
    assert len(tr['annotations']) + len(va['annotations']) == 50
    assert split_coco_by_image(coco, 0.25, seed=3)[1] == va
    assert split_coco_by_image(coco, 0.25, seed=4)[1] != va


def test_tool_as_in_readme(tmp_path):
    img_dir = tmp_path / 'train'
    img_dir.mkdir()
    rng = np.random.default_rng(0)
    rows = []
    for k in range(4):
        write_dicom(img_dir / f'im{k}.dicom', rng.integers(0, 4096, (48, 64)), 'MONOCHROME1',
                    center=2048, width=2048)
        rows += [finding(f'im{k}', k, 'R8', (4, 4, 30, 20)),
                 finding(f'im{k}', k, 'R9', (5, 3, 31, 22)), no_finding(f'im{k}', 'R10')]
    csv_path = write_csv(tmp_path / 'train.csv', rows)
    out = tmp_path / 'ann' / 'vindr.json'
    res = subprocess.run(
        [sys.executable, 'tools/dataset_converters/vindr_cxr_to_coco.py', csv_path,
         '--images', str(img_dir), '--png-out', str(tmp_path / 'png'), '--max-size', '32',
         '--out', str(out), '--val-fraction', '0.25', '--seed', '0'],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert 'no-finding reads:  4' in res.stdout
    train = json.load(open(tmp_path / 'ann' / 'vindr_train.json'))
    val = json.load(open(tmp_path / 'ann' / 'vindr_val.json'))
    assert len(train['images']) == 3 and len(val['images']) == 1
    assert train['images'][0]['readers'] == ['R8', 'R9', 'R10']
    for k in range(4):
        with Image.open(tmp_path / 'png' / f'im{k}.png') as im:
            assert im.format == 'PNG' and im.size == (32, 24)


def test_converted_file_fuses_and_draws(tmp_path):
    """Converter output feeds the fusion figure and reader agreement (DICOMs windowed)."""
    from mmmulti.analysis.reader_agreement import reader_agreement_from_file
    from mmmulti.visualization import fusion_examples, plot_fusion_comparison
    img_dir = tmp_path / 'dicom'
    img_dir.mkdir()
    yy, xx = np.mgrid[0:80, 0:100]
    write_dicom(img_dir / 'cxr1.dicom', (xx * 40).astype(np.uint16), 'MONOCHROME1',
                center=2000, width=3000)
    rows = [finding('cxr1', 3, 'R8', (20, 30, 70, 60)),
            finding('cxr1', 3, 'R9', (22, 28, 72, 62)),
            finding('cxr1', 8, 'R9', (5, 5, 15, 15)), no_finding('cxr1', 'R10')]
    coco, _ = convert_vindr_csv(write_csv(tmp_path / 'c.csv', rows), image_dir=str(img_dir),
                                progress=False)
    ann = tmp_path / 'c.json'
    ann.write_text(json.dumps(coco))
    items, names, readers = fusion_examples(str(ann), str(img_dir), num=1)
    assert readers == ['R8', 'R9', 'R10'] and names[3] == 'Cardiomegaly'
    fused = items[0]['fused']
    # WBF: the two Cardiomegaly boxes fuse (2 of R = 3 readers), the nodule stands alone
    order = np.argsort(fused.labels)
    assert fused.labels[order].tolist() == [3, 8]
    np.testing.assert_allclose(fused.confidences[order], [2 / 3, 1 / 3], rtol=1e-6)
    assert items[0]['image'][0, 0] == 255   # MONOCHROME1: low values shown bright
    out = tmp_path / 'fig.png'
    plot_fusion_comparison(items, str(out), names, readers)
    with Image.open(out) as im:
        assert im.format == 'PNG' and im.size[0] > 500
    rep = reader_agreement_from_file(str(ann), iou_thr=0.4, min_agreement=2)
    r10 = rep.per_reader[rep.readers.index('R10')]
    assert (r10.images, r10.boxes, r10.consensus_boxes, r10.recall) == (1, 0, 1, 0.0)
