"""The paper's comparison arms, as configs plus overrides.

An arm is one way of turning the readers' boxes into a detector: the
all-boxes baseline, one model per single reader, the readers ensemble (the
single-reader models' predictions fused with WBF), WBF's boxes without EARL, EARL
on WBF (its weights raw or divided by their batch mean) or on
reliability-weighted WBF fusion, EARL on WBF clusters of all classes whose
class target is the readers' vote distribution (soft labels) or a Dawid-Skene
posterior over classes, EARL on the same clusters weighted by the posterior that
each is a real finding (presence EM), the same with each reader's box bias,
box noise and class confusions fitted too (the reader model), EARL on WBF
weighted by a calibrated probability that each box is a real finding, and EARL on every
reader's box weighted by its WBF cluster's agreement. The ``truth`` arm (simulated data only)
trains on the clean boxes: the upper bound the others are measured against.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence


@dataclass(frozen=True)
class Arm:
    """One arm of the protocol.

    ``config`` is an experiment config name under ``configs/`` with ``{det}``
    standing for the detector (``yolo``, ``efficientdet_d3``...); ``overrides``
    are merged into it. An ensemble arm trains nothing: it fuses the
    predictions of ``members``.
    """
    name: str
    config: Optional[str] = None
    overrides: Dict = field(default_factory=dict)
    members: Sequence[str] = ()

    @property
    def is_ensemble(self) -> bool:
        return bool(self.members)


def make_arms(readers: Sequence[str]) -> Dict[str, Arm]:
    """All arms for a data set whose readers are ``readers``."""
    arms: Dict[str, Arm] = {
        # upper bound: the same detector on the simulator's clean boxes
        'truth': Arm('truth', 'truth_{det}.py'),
        'baseline': Arm('baseline', 'baseline_{det}.py'),
        'wbf_earl': Arm('wbf_earl', 'earl_{det}.py'),
        # WBF's fused boxes as plain targets, no EARL (every box weighs 1): with
        # baseline, wbf_earl and allboxes_earl it separates what the fusion does from
        # what the agreement weights do
        'wbf': Arm(
            'wbf', 'baseline_{det}.py',
            {'train_dataloader': {'dataset': {'fusion': {
                '_delete_': True, 'type': 'WBF', 'iou_thr': 0.4, 'skip_box_thr': 0.0,
                'conf_type': 'avg'}}}}),
        # WBF + EARL with the weights divided by their batch mean (normalize='mean'):
        # EARL re-weights the targets among themselves without shrinking them against
        # the loss's unweighted background. The YOLOv5 configs do this already (there it
        # is wbf_earl); the EfficientDet configs keep the paper's raw weights
        'wbf_earl_mean': Arm(
            'wbf_earl_mean', 'earl_{det}.py',
            {'model': {'bbox_head': {'earl': {'normalize': 'mean'}}}}),
        # every reader's box a target, weighted by its WBF cluster's agreement
        # (configs/allboxes_earl_yolo.py is the same, to run by hand)
        'allboxes_earl': Arm(
            'allboxes_earl', 'earl_{det}.py',
            {'train_dataloader': {'dataset': {'fusion': {
                '_delete_': True, 'type': 'AllBoxesAgreement', 'iou_thr': 0.4}}}}),
        # WBF over all classes, the readers' class votes as a soft class target
        # (configs/soft_wbf_earl_yolo.py is the same, to run by hand)
        'soft_wbf_earl': Arm(
            'soft_wbf_earl', 'earl_{det}.py',
            {'train_dataloader': {'dataset': {'fusion': {
                '_delete_': True, 'type': 'SoftWBF', 'iou_thr': 0.4}}}}),
        # as soft_wbf_earl, the class target a Dawid-Skene posterior (readers'
        # confusion matrices by EM; configs/dawid_skene_earl_yolo.py by hand)
        'dawid_skene_earl': Arm(
            'dawid_skene_earl', 'earl_{det}.py',
            {'train_dataloader': {'dataset': {'fusion': {
                '_delete_': True, 'type': 'DawidSkeneWBF', 'iou_thr': 0.4}}}}),
        # as soft_wbf_earl, the confidence the posterior that the finding is real
        # given which readers drew it (EM); likely-spurious clusters dropped
        # (configs/presence_earl_yolo.py by hand)
        'presence_earl': Arm(
            'presence_earl', 'earl_{det}.py',
            {'train_dataloader': {'dataset': {'fusion': {
                '_delete_': True, 'type': 'PresenceWBF', 'iou_thr': 0.4,
                'min_confidence': 0.5}}}}),
        # as presence_earl with the whole reader model: box bias undone, box
        # noise as coordinate weights, Dawid-Skene class posterior
        # (configs/reader_model_earl_yolo.py by hand)
        'reader_model_earl': Arm(
            'reader_model_earl', 'earl_{det}.py',
            {'train_dataloader': {'dataset': {'fusion': {
                '_delete_': True, 'type': 'PresenceWBF', 'iou_thr': 0.4,
                'min_confidence': 0.5, 'correct_bias': True, 'precision_weights': True,
                'class_target': 'dawid_skene'}}}}),
        # WBF's boxes, each weighted by the posterior that it is a real finding
        # of its class (reader sensitivities by EM, coincidence measured); all
        # clusters kept (configs/calibrated_earl_yolo.py by hand)
        'calibrated_earl': Arm(
            'calibrated_earl', 'earl_{det}.py',
            {'train_dataloader': {'dataset': {'fusion': {
                '_delete_': True, 'type': 'CalibratedWBF', 'iou_thr': 0.4}}}}),
        'reliability_wbf_earl': Arm(
            'reliability_wbf_earl', 'earl_{det}.py',
            {'train_dataloader': {'dataset': {'fusion': {
                '_delete_': True, 'type': 'ReliabilityWBF', 'iou_thr': 0.4}}}}),
    }
    singles: List[str] = []
    for reader in readers:
        name = f'single_reader_{reader}'
        singles.append(name)
        arms[name] = Arm(name, 'single_reader_{det}.py',
                         {'train_dataloader': {'dataset': {'readers': [reader]}}})
    arms['readers_ensemble'] = Arm('readers_ensemble', members=tuple(singles))
    return arms


def expand_arms(names: Sequence[str], arms: Dict[str, Arm]) -> List[Arm]:
    """Arms to run, in order, with every ensemble's members before it."""
    out: List[Arm] = []
    for name in names:
        if name == 'single_readers':
            wanted = [a for a in arms if a.startswith('single_reader_')]
        elif name in arms:
            wanted = [*arms[name].members, name]
        else:
            raise KeyError(f'unknown arm {name!r}; known: {", ".join(arms)}, single_readers')
        for w in wanted:
            if arms[w] not in out:
                out.append(arms[w])
    return out
