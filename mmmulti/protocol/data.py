"""The protocol's data: the scale it runs at, the data folder (generated or
checked against the scale), its readers, and the fused-boxes picture."""
from __future__ import annotations

import json
import os
import os.path as osp
from typing import List

from .scale import load_scale
from .settings import DEFAULT_DATA_PATHS, ProtocolSettings
from .tool_run import log as _log


class ProtocolData:
    """A protocol run's scale and data; :class:`~.runner.ProtocolRunner` trains on it."""

    def __init__(self, settings: ProtocolSettings):
        self.s = settings
        self.scale = load_scale(settings.scale_file)
        if settings.data_overrides:
            self.scale.merge_from_dict({'data': dict(settings.data_overrides)})
        self.name = osp.splitext(osp.basename(settings.scale_file))[0]
        self.data_root = settings.data_root or self.scale.get(
            'data_root', f'data/{settings.dataset}_{self.name}')
        self.seeds = list(settings.seeds if settings.seeds is not None else self.scale.seeds)
        self.data_paths = {**DEFAULT_DATA_PATHS, **self.scale.get('annotations', {})}
        self._test_gt = None
        os.makedirs(settings.work_dir, exist_ok=True)

    def data_path(self, key: str) -> str:
        """``train``/``val``/``test`` annotation file or ``train_images`` folder."""
        return osp.join(self.data_root, self.data_paths[key])

    def test_gt(self):
        """The test truth as a pycocotools COCO, loaded once per run."""
        if self._test_gt is None:
            from mmmulti.evaluation.predictions import load_coco_gt
            self._test_gt = load_coco_gt(self.data_path('test'))
        return self._test_gt

    # -- data -----------------------------------------------------------------
    def prepare_data(self) -> None:
        """Generate MED-MNIST at this scale unless it is already there."""
        test_json = self.data_path('test')
        if osp.isfile(test_json):
            if self.s.dataset == 'med_mnist':
                self.check_generated_data()
            _log(f'data: using {self.data_root}')
            return
        if self.s.dataset != 'med_mnist':
            raise FileNotFoundError(
                f'{test_json} not found: convert {self.s.dataset} first '
                '(README, "Convert VinDr-CXR"; docs/guide_data_fusion.md, "Data")')
        from mmmulti.simulation import make_med_mnist
        _log(f'data: generating MED-MNIST into {self.data_root} ({dict(self.scale.data)})')
        make_med_mnist(self.data_root, **self.scale.data)

    def check_generated_data(self) -> None:
        """Refuse a MED-MNIST folder generated with other settings than the scale's
        ``data``: its numbers would be reported as the scale's."""
        from mmmulti.simulation.provenance import generation_mismatch
        readers_json = self.data_path('readers')
        if not osp.isfile(readers_json):
            _log(f'data: {readers_json} not found: {self.data_root} is not a generated '
                 'MED-MNIST folder, its settings are not checked against the scale')
            return
        diff = generation_mismatch(readers_json, dict(self.scale.data))
        if diff is None:
            _log(f'data: {readers_json} records no settings (made by an older mmmulti): '
                 f'not checked against the scale; delete {self.data_root} to regenerate')
        elif diff:
            raise ValueError(
                f'{self.data_root} was generated with other settings than '
                f'{self.s.scale_file} asks for ({readers_json}):\n  ' + '\n  '.join(diff)
                + f'\nDelete {self.data_root} to generate the scale\'s data there, or give '
                '--data-root another folder.')

    def readers(self) -> List[str]:
        with open(self.data_path('train')) as f:
            data = json.load(f)
        found = {r for im in data['images'] for r in im.get('readers', [])}
        found |= {a['reader'] for a in data['annotations'] if 'reader' in a}
        return sorted(found)

    def draw_fusion(self, num: int = 3) -> str:
        """The paper's Fig. 2 for this data: readers' boxes beside WBF's fused boxes."""
        from mmmulti.visualization import fusion_examples, plot_fusion_comparison
        items, class_names, readers = fusion_examples(self.data_path('train'),
                                                      self.data_path('train_images'), num=num,
                                                      method='wbf', iou_thr=0.4)
        out = osp.join(self.s.work_dir, 'fused_boxes.png')
        plot_fusion_comparison(items, out, class_names, readers,
                               title="Readers' boxes (left) and WBF fusion with "
                               'agreement confidence (right)')
        return out
