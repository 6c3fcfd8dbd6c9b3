r"""Convert a VinDr-CXR (VinBigData) annotation CSV to multi-reader COCO.

Examples::

    # training CSV, sizes from the DICOMs, 8-bit PNGs (longer side 1024), 10 % val
    python tools/dataset_converters/vindr_cxr_to_coco.py data/vindr/train.csv \
        --images data/vindr/train --png-out data/vindr/png/train --max-size 1024 \
        --out data/vindr/annotations/vindr.json --val-fraction 0.1 --seed 0

    # Rads-VinDr-CXR: only readers R8, R9, R10, images read by all three
    python tools/dataset_converters/vindr_cxr_to_coco.py data/vindr/train.csv \
        --images data/vindr/train --readers R8 R9 R10 --require-all-readers \
        --out data/vindr/annotations/rads.json

    # the consensus test CSV -> clean single-truth COCO
    python tools/dataset_converters/vindr_cxr_to_coco.py data/vindr/test.csv --test \
        --images data/vindr/test --out data/vindr/annotations/test.json
"""
import argparse
import math
import os
import os.path as osp
import sys

from mmmulti.converters.vindr_cxr import convert_vindr_csv, split_coco_by_image
from mmmulti.utils.atomic import dump_json_atomic
from mmmulti.utils.cli_errors import add_debug_flag, cli_entry
from mmmulti.utils.output_guard import check_output_dir, check_output_file


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter,
                     argparse.RawDescriptionHelpFormatter):
    """Keeps the examples' layout and shows defaults."""


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=_HelpFormatter)
    p.add_argument('csv', help='annotation CSV (image_id, class_name, class_id, rad_id, '
                   'x_min, y_min, x_max, y_max[, width, height])')
    p.add_argument('--out', required=True, help='output COCO json')
    p.add_argument('--images', default=None,
                   help='folder of <image_id>.dicom/.dcm/.png/.jpg files (sizes, PNG source)')
    p.add_argument('--png-out', default=None,
                   help='write 8-bit PNGs here (VOI LUT applied, MONOCHROME1 inverted)')
    p.add_argument('--max-size', type=int, default=None,
                   help='with --png-out: longer side at most this many px, boxes rescaled')
    p.add_argument('--readers', nargs='+', default=None,
                   help='keep only these rad_ids (e.g. R8 R9 R10)')
    p.add_argument('--require-all-readers', action='store_true',
                   help='with --readers: keep only images read by all of them')
    p.add_argument('--val-fraction', type=float, default=None,
                   help='split by image, a fraction in [0, 1): write OUT_train.json and '
                   'OUT_val.json (0: every image in OUT_train, OUT_val empty)')
    p.add_argument('--seed', type=int, default=0, help='seed of the train/val split')
    p.add_argument('--test', action='store_true',
                   help='consensus CSV (no rad_id, or one): clean single-truth COCO')
    p.add_argument('--drop-unknown-classes', action='store_true',
                   help='drop (and count) rows of classes outside the 14 + No finding '
                   'instead of failing')
    p.add_argument('--skip-bad', action='store_true',
                   help='skip (and list in the summary) images whose file cannot be read '
                   'or decoded, instead of stopping at the first one')
    p.add_argument('--no-progress', action='store_true', help='hide the progress bar')
    p.add_argument('--overwrite', action='store_true',
                   help='allow an output to be the CSV, or --png-out to lie in --images')
    add_debug_flag(p)
    return p.parse_args(argv)


def _dump(obj: dict, path: str) -> None:
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    dump_json_atomic(obj, path)
    print(f'wrote {path}: {len(obj["images"])} images, {len(obj["annotations"])} boxes')


def output_paths(out: str, val_fraction) -> list:
    """The json files written: OUT, or OUT_train / OUT_val with --val-fraction."""
    if val_fraction is None:
        return [out]
    stem = osp.splitext(out)[0]
    return [f'{stem}_train.json', f'{stem}_val.json']


def check_args(a: argparse.Namespace) -> None:
    """Every range and output path, before the CSV is read or a PNG written."""
    if a.val_fraction is not None and not (math.isfinite(a.val_fraction)
                                           and 0.0 <= a.val_fraction < 1.0):
        raise ValueError(f'--val-fraction must be in [0, 1), got {a.val_fraction}')
    if a.max_size is not None and a.max_size < 1:
        raise ValueError(f'--max-size must be >= 1, got {a.max_size}')
    if a.max_size is not None and a.png_out is None:
        raise ValueError('--max-size needs --png-out (only the PNGs written are resized)')
    if a.require_all_readers and not a.readers:
        raise ValueError('--require-all-readers needs --readers')
    for out in output_paths(a.out, a.val_fraction):
        # the CSV is the readers' only copy: never write over it
        check_output_file(out, [a.csv], [a.images], overwrite=a.overwrite, what='--out',
                          input_what='input CSV')
    if a.png_out is not None:
        # PNGs written into the source folder would replace the source images
        check_output_dir(a.png_out, (), [a.csv], [a.images], overwrite=a.overwrite,
                         what='--png-out')


@cli_entry
def main(argv=None) -> int:
    a = parse_args(argv)
    check_args(a)
    coco, summary = convert_vindr_csv(
        a.csv, image_dir=a.images, png_out=a.png_out, readers=a.readers,
        require_all_readers=a.require_all_readers, max_size=a.max_size,
        consensus=a.test, drop_unknown_classes=a.drop_unknown_classes,
        progress=not a.no_progress, skip_bad=a.skip_bad)
    print(summary.format())
    if a.val_fraction is None:
        _dump(coco, a.out)
        return 0
    train_out, val_out = output_paths(a.out, a.val_fraction)
    if a.val_fraction == 0:
        train, val = coco, dict(coco, images=[], annotations=[])
    else:
        train, val = split_coco_by_image(coco, a.val_fraction, a.seed)
    _dump(train, train_out)
    _dump(val, val_out)
    return 0


if __name__ == '__main__':
    sys.exit(main())
