"""HostDetDataPreprocessor: mmdet's DetDataPreprocessor's output, without copies of
the data samples on the CPU."""
import torch
from mmdet.models.data_preprocessors import DetDataPreprocessor
from mmdet.structures import DetDataSample
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

from mmmulti.registry import MODELS


def batch():
    torch.manual_seed(0)
    samples = []
    for i in range(3):
        s = DetDataSample(metainfo=dict(img_shape=(40, 48), ori_shape=(40, 48), img_id=i))
        s.gt_instances = InstanceData(bboxes=torch.rand(2, 4) * 30,
                                      labels=torch.tensor([0, i]))
        samples.append(s)
    return dict(inputs=[torch.randint(0, 255, (3, 40, 48), dtype=torch.uint8)
                        for _ in range(3)], data_samples=samples)


def test_same_output_as_mmdet_without_copying_samples():
    init_default_scope('mmmulti')
    kw = dict(mean=[0., 0., 0.], std=[255., 255., 255.], bgr_to_rgb=True,
              pad_size_divisor=32)
    ours = MODELS.build(dict(type='HostDetDataPreprocessor', **kw))
    ref = DetDataPreprocessor(**kw)
    data = batch()
    got, want = ours(batch(), True), ref(data, True)
    assert torch.equal(got['inputs'], want['inputs'])
    assert got['inputs'].shape == (3, 3, 64, 64)
    for a, b in zip(got['data_samples'], want['data_samples']):
        assert a.metainfo == b.metainfo
        assert torch.equal(a.gt_instances.bboxes, b.gt_instances.bboxes)
        assert torch.equal(a.gt_instances.labels, b.gt_instances.labels)
    fresh = batch()
    out = ours(fresh, True)
    assert all(a is b for a, b in zip(out['data_samples'], fresh['data_samples']))
    # mmdet's copies them (the cost this class removes)
    assert not any(a is b for a, b in zip(ref(batch(), True)['data_samples'],
                                          fresh['data_samples']))


def test_other_devices_cast_as_mmdet(monkeypatch):
    """Off the CPU the samples go through mmdet's cast (here: a meta 'device' seen
    by the override, checked without a GPU)."""
    init_default_scope('mmmulti')
    ours = MODELS.build(dict(type='HostDetDataPreprocessor'))
    monkeypatch.setattr(type(ours), 'device', property(lambda self: torch.device('meta')))
    sample = batch()['data_samples'][0]
    moved = ours.cast_data(sample)
    assert moved is not sample and moved.gt_instances.bboxes.device.type == 'meta'
