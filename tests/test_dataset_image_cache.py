"""cache_images=True: every sample equals the one decoded from disk, the cache is
filled once before workers fork, and a multi-worker loader reads it."""
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope

import mmmulti  # noqa: F401
from mmmulti.datasets.image_cache import to_color_type
from mmmulti.registry import DATASETS


def _dataset(root, cache, color_type='color'):
    cfg = Config.fromfile('configs/_base_/datasets/med_mnist.py')
    ds = cfg.train_dataloader.dataset
    ds.update(data_root=root + '/', cache_images=cache)
    ds.pipeline[0] = dict(type='LoadImageCheckSize', color_type=color_type)
    with DefaultScope.overwrite_default_scope('mmmulti'):
        return DATASETS.build(ds)


@pytest.mark.parametrize('color_type', ['color'])
def test_cached_samples_equal_disk_samples(tiny_med_mnist, color_type):
    plain = _dataset(tiny_med_mnist, False, color_type)
    cached = _dataset(tiny_med_mnist, True, color_type)
    assert cached.image_cache is not None and len(cached.image_cache) == len(plain)
    assert plain.image_cache is None
    for i in range(len(plain)):
        a, b = plain[i], cached[i]
        assert a['inputs'].shape == b['inputs'].shape
        assert np.array_equal(a['inputs'].numpy(), b['inputs'].numpy())
        assert np.array_equal(a['data_samples'].gt_instances.bboxes.numpy(),
                              b['data_samples'].gt_instances.bboxes.numpy())
    # the shared arrays are read-only: a transform can never write into the cache
    assert not cached.image_cache[0].flags.writeable


def test_cache_read_by_forked_workers(tiny_med_mnist):
    from torch.utils.data import DataLoader
    from mmengine.dataset import pseudo_collate
    cached = _dataset(tiny_med_mnist, True)
    loader = DataLoader(cached, batch_size=4, num_workers=2, collate_fn=pseudo_collate)
    n = sum(len(batch['inputs']) for batch in loader)
    assert n == len(cached)


def test_to_color_type():
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4)
    assert to_color_type(gray, 'color').shape == (3, 4, 3)
    assert np.array_equal(to_color_type(gray, 'grayscale'), gray)
    with pytest.raises(ValueError, match='color_type'):
        to_color_type(gray, 'color_ignore_orientation')
