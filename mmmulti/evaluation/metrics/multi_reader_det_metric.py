"""mAP@0.4 (paper / VinBigData) and COCO mAP in one mmengine metric."""
import os.path as osp
import tempfile
from collections import OrderedDict
from typing import Dict, List, Mapping, Optional, Union

from mmdet.datasets.api_wrappers import COCO
from mmdet.evaluation.metrics import CocoMetric
from mmengine.fileio import get_local_path, load
from mmengine.logging import MMLogger

from mmmulti.io import fused_to_coco, load_multi_reader_coco
from mmmulti.registry import FUSION_METHODS, METRICS
from mmmulti.utils.atomic import dump_json_atomic
from ..functional import (PAPER_IOU_THR, evaluate_coco_results, format_results_table,
                          map_key, scalar_metrics)
from ..no_finding import parse_no_finding
from ..predictions import coco_from_dict


def fused_gt(ann_file: str, fusion: Mapping, backend_args: Optional[dict] = None) -> COCO:
    """The truth-inference fusion of a multi-reader gt json, as a COCO gt."""
    method = FUSION_METHODS.build(dict(fusion))
    with get_local_path(ann_file, backend_args=backend_args) as local_path:
        src = load_multi_reader_coco(local_path)
    MMLogger.get_current_instance().info(
        f'{ann_file}: gt fused with {method!r} for evaluation')
    fused = method.fuse_dataset(src.reads)
    if getattr(method, 'splits_classes', False):  # one gt per box, its majority class
        fused = [f.merged_class_split() for f in fused]
    return coco_from_dict(fused_to_coco(src, fused, method.config()), coco_cls=COCO)


@METRICS.register_module()
class MultiReaderDetMetric(CocoMetric):
    """Box detection metric of the paper: mAP@0.4 beside COCO mAP@[.5:.95].

    Reuses mmdet's ``CocoMetric`` for collecting predictions (``process``),
    writing them as COCO json (``results2json``) and building the gt from
    ``ann_file`` or from the dataset's instances (``gt_to_coco_json``); scoring
    is :func:`mmmulti.evaluation.evaluate_coco_results`.

    Returned keys (prefix ``coco`` unless ``prefix`` is set): ``coco/map_40``
    (``map_{100*map_iou_thr}``), ``coco/map_50_95``, and mmdet's
    ``coco/bbox_mAP`` (= map_50_95), ``coco/bbox_mAP_50``, ``_75``, ``_s``,
    ``_m``, ``_l``. All are floats, so mmengine's logger and ``save_best``
    handle them. The per-class table (AP@0.4 and AP@[.5:.95] per class) is
    logged, kept in ``self.last_per_class`` and, when ``outfile_prefix`` is
    set, written to ``{outfile_prefix}.per_class.json``.

    A multi-reader gt json (several readers' boxes per image) is scored as
    given (every reader's box is a gt box) unless ``gt_readers_fusion`` fuses
    it first.

    Args:
        ann_file: gt COCO json; None builds the gt from the dataset.
        classwise: compute and log the per-class table.
        map_iou_thr: IoU threshold of the paper's mAP (0.4).
        no_finding: VinBigData "No finding" convention, e.g.
            ``dict(enable=True, class_id=14, score_mode='complement',
            score_thr=0.0)``; see :mod:`mmmulti.evaluation.no_finding`.
        gt_readers_fusion: fuse a multi-reader ``ann_file`` into one truth
            before scoring, e.g. ``dict(type='WBF', iou_thr=0.4)`` (any
            ``FUSION_METHODS`` entry); every fused box is a gt box, whatever
            its agreement. None scores the file as given.
        max_dets: detections kept per image (COCO's 100).
        Other arguments are ``CocoMetric``'s.
    """
    default_prefix: Optional[str] = 'coco'

    def __init__(self,
                 ann_file: Optional[str] = None,
                 metric: Union[str, List[str]] = 'bbox',
                 classwise: bool = True,
                 map_iou_thr: float = PAPER_IOU_THR,
                 no_finding: Optional[Mapping] = None,
                 gt_readers_fusion: Optional[Mapping] = None,
                 max_dets: int = 100,
                 format_only: bool = False,
                 outfile_prefix: Optional[str] = None,
                 backend_args: Optional[dict] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 sort_categories: bool = False) -> None:
        if metric not in ('bbox', ['bbox']):
            raise KeyError(f'MultiReaderDetMetric scores boxes only (metric="bbox"), got {metric!r}')
        if gt_readers_fusion is not None and ann_file is None:
            raise ValueError('gt_readers_fusion needs ann_file (the multi-reader gt json)')
        super().__init__(ann_file=None if gt_readers_fusion else ann_file, metric='bbox',
                         classwise=classwise, format_only=format_only,
                         outfile_prefix=outfile_prefix, backend_args=backend_args,
                         collect_device=collect_device, prefix=prefix,
                         sort_categories=sort_categories)
        if gt_readers_fusion is not None:
            self._coco_api = fused_gt(ann_file, gt_readers_fusion, backend_args)
        self.map_iou_thr = float(map_iou_thr)
        self.no_finding = parse_no_finding(no_finding)
        self.max_dets = int(max_dets)
        self.last_per_class: Optional[Dict[str, dict]] = None

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """Score the collected (gt, prediction) pairs; floats only."""
        logger: MMLogger = MMLogger.get_current_instance()
        gts, preds = zip(*results)

        tmp_dir = None
        if self.outfile_prefix is None:
            tmp_dir = tempfile.TemporaryDirectory()
            outfile_prefix = osp.join(tmp_dir.name, 'results')
        else:
            outfile_prefix = self.outfile_prefix
        try:
            if self._coco_api is None:
                logger.info('Converting ground truth to coco format...')
                self._coco_api = COCO(self.gt_to_coco_json(
                    gt_dicts=gts, outfile_prefix=outfile_prefix))
            if self.cat_ids is None:
                self.cat_ids = self._coco_api.get_cat_ids(
                    cat_names=self.dataset_meta['classes'])
            if self.img_ids is None:
                self.img_ids = self._coco_api.get_img_ids()

            result_files = self.results2json(preds, outfile_prefix)
            eval_results: Dict[str, float] = OrderedDict()
            if self.format_only:
                logger.info(f'results are saved in {osp.dirname(outfile_prefix)}')
                return eval_results

            logger.info(f'Evaluating bbox (mAP@{self.map_iou_thr:g} and mAP@[.5:.95])...')
            scores = evaluate_coco_results(
                self._coco_api, load(result_files['bbox']), iou_thr=self.map_iou_thr,
                classwise=self.classwise, no_finding=self.no_finding,
                cat_ids=self.cat_ids, img_ids=self.img_ids, max_dets=self.max_dets)
            if self.classwise:
                logger.info('\n' + format_results_table(scores, self.map_iou_thr))
                self.last_per_class = scores['per_class']
                if self.outfile_prefix is not None:
                    dump_json_atomic(scores['per_class'],
                                     f'{self.outfile_prefix}.per_class.json')
            eval_results.update(scalar_metrics(scores, self.map_iou_thr))
            logger.info(
                f'{map_key(self.map_iou_thr)}: {scores[map_key(self.map_iou_thr)]:.4f}  '
                f'map_50_95: {scores["map_50_95"]:.4f}  bbox_mAP_copypaste: ' + ' '.join(
                    f'{scores[k]:.3f}' for k in ('bbox_mAP', 'bbox_mAP_50', 'bbox_mAP_75',
                                                 'bbox_mAP_s', 'bbox_mAP_m', 'bbox_mAP_l')))
            return eval_results
        finally:
            if tmp_dir is not None:
                tmp_dir.cleanup()
