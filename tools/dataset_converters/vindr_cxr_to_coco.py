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
import os
import os.path as osp

from mmmulti.converters.vindr_cxr import convert_vindr_csv, split_coco_by_image
from mmmulti.utils.atomic import dump_json_atomic, same_file


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter,
                     argparse.RawDescriptionHelpFormatter):
    """Keeps the examples' layout and shows defaults."""


def parse_args() -> argparse.Namespace:
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
                   help='split by image: write OUT_train.json and OUT_val.json')
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
    return p.parse_args()


def _dump(obj: dict, path: str) -> None:
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    dump_json_atomic(obj, path)
    print(f'wrote {path}: {len(obj["images"])} images, {len(obj["annotations"])} boxes')


def main() -> None:
    a = parse_args()
    outs = ([f'{osp.splitext(a.out)[0]}_{s}.json' for s in ('train', 'val')]
            if a.val_fraction else [a.out])
    try:
        for out in outs:  # the CSV is the readers' only copy: never write over it
            if same_file(out, a.csv):
                raise ValueError(f'--out {out} is the input CSV {a.csv}; choose another path')
        coco, summary = convert_vindr_csv(
            a.csv, image_dir=a.images, png_out=a.png_out, readers=a.readers,
            require_all_readers=a.require_all_readers, max_size=a.max_size,
            consensus=a.test, drop_unknown_classes=a.drop_unknown_classes,
            progress=not a.no_progress, skip_bad=a.skip_bad)
    except (ValueError, FileNotFoundError) as e:
        raise SystemExit(f'error: {e}') from None
    print(summary.format())
    if a.val_fraction:
        train, val = split_coco_by_image(coco, a.val_fraction, a.seed)
        stem = osp.splitext(a.out)[0]
        _dump(train, f'{stem}_train.json')
        _dump(val, f'{stem}_val.json')
    else:
        _dump(coco, a.out)


if __name__ == '__main__':
    main()
