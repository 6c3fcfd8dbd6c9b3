"""Load time of MultiAnnotatorCocoDataset with fusion: first load (fuses, writes
the cache) and second load (reads the cache), against mmdet's CocoDataset on
the same file, all measured in this run.

    python benchmarks/bench_dataset_cache.py --images 3000
"""
import argparse
import json
import os.path as osp
import tempfile
import time

import numpy as np
from mmengine.registry import init_default_scope


def synthetic_coco(n_images: int, seed: int = 0) -> dict:
    """3 readers per image, ~4 objects, each drawn by a random subset."""
    rng = np.random.default_rng(seed)
    images, anns = [], []
    aid = 1
    for i in range(1, n_images + 1):
        images.append(dict(id=i, file_name=f'{i}.png', width=512, height=512,
                           readers=['R1', 'R2', 'R3']))
        for _ in range(rng.integers(0, 8)):
            x, y = rng.uniform(0, 400, 2)
            w, h = rng.uniform(10, 100, 2)
            cat = int(rng.integers(1, 4))
            for r in ('R1', 'R2', 'R3'):
                if rng.random() < 0.6:
                    j = rng.normal(0, 3, 4)
                    bw, bh = max(w + j[2], 2), max(h + j[3], 2)
                    anns.append(dict(id=aid, image_id=i, category_id=cat,
                                     bbox=[x + j[0], y + j[1], bw, bh],
                                     area=bw * bh, iscrowd=0, reader=r))
                    aid += 1
    cats = [dict(id=k, name=f'class{k}') for k in (1, 2, 3)]
    return dict(images=images, annotations=anns, categories=cats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--images', type=int, default=3000)
    parser.add_argument('--repeats', type=int, default=3)
    args = parser.parse_args()

    import mmmulti  # noqa: F401
    from mmdet.datasets import CocoDataset

    from mmmulti.datasets import MultiAnnotatorCocoDataset
    init_default_scope('mmmulti')
    with tempfile.TemporaryDirectory() as tmp:
        ann = osp.join(tmp, 'train.json')
        coco = synthetic_coco(args.images)
        with open(ann, 'w') as f:
            json.dump(coco, f)
        print(f'{len(coco["images"])} images, {len(coco["annotations"])} '
              f'reader boxes, {osp.getsize(ann) / 1e6:.1f} MB')
        common = dict(ann_file=ann, data_prefix=dict(img=''), pipeline=[],
                      serialize_data=False)
        classes = dict(classes=tuple(c['name'] for c in coco['categories']))

        def timed(make):
            best = float('inf')
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                make()
                best = min(best, time.perf_counter() - t0)
            return best

        plain = timed(lambda: CocoDataset(metainfo=classes, **common))
        cache_dir = osp.join(tmp, 'cache')
        fusion = dict(type='WBF', iou_thr=0.4)
        t0 = time.perf_counter()
        first = MultiAnnotatorCocoDataset(fusion=fusion, cache_dir=cache_dir,
                                          **common)
        miss = time.perf_counter() - t0
        assert first.cache_hit is False
        hit = timed(lambda: MultiAnnotatorCocoDataset(
            fusion=fusion, cache_dir=cache_dir, **common))
        unfused = timed(lambda: MultiAnnotatorCocoDataset(**common))
        print(f'mmdet CocoDataset (plain load)       : {plain:7.3f} s')
        print(f'MultiAnnotatorCocoDataset, no fusion  : {unfused:7.3f} s '
              f'({unfused / plain:.2f}x plain)')
        print(f'  with WBF, first load (fuse + write): {miss:7.3f} s '
              f'({miss / plain:.2f}x plain)')
        print(f'  with WBF, cached load              : {hit:7.3f} s '
              f'({hit / plain:.2f}x plain)')


if __name__ == '__main__':
    main()
