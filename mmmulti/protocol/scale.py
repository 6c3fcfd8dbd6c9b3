"""A protocol scale: what a protocol run does, and the overrides every arm trains with.

A scale file (``configs/protocol/*.py``) is an ordinary mmengine override config. Its
keys split in two:

- the protocol's own keys (:data:`PROTOCOL_KEYS`): the simulated data, the arms, the
  seeds, the training flags, the ensemble and study settings;
- every other public key is an override of the arms' experiment configs
  (``configs/earl_yolo.py``, ``configs/baseline_yolo.py`` ...), merged onto each as a
  child config's keys merge onto its ``_base_``: dicts key by key, everything else
  replaced, ``_delete_=True`` honoured. ``train_cfg = dict(max_epochs=18)`` in a scale
  file means what it means in any mmdet config that inherits the arm's.

Names starting with ``_`` are the file's private helpers (``_train_pipeline``) and are
not merged. Overrides that fit one detector only (a YOLOv5 width, say) go under
``detector_overrides = dict(yolo=dict(...))``, merged before the common ones, so the
same scale also runs ``--detector efficientdet_d3``.

Scale files inherit each other with ``_base_`` (``mini.py`` restates the schedule of
``_cpu_overrides.py``), and each arm's merged config is written beside its results,
where ``tools/train.py`` runs it by hand.
"""
from __future__ import annotations

from typing import Any, Dict

from mmengine.config import Config

#: keys a scale file uses to describe the run rather than the arms' configs
PROTOCOL_KEYS = frozenset({
    'data',                # simulator settings (make_med_mnist's arguments)
    'data_root',           # where the data lives (default data/<dataset>_<scale>)
    'annotations',         # paths inside the data root, over runner.DEFAULT_DATA_PATHS
    'arms',                # arm names (mmmulti/protocol/arms.py)
    'seeds',               # training seeds
    'train_flags',         # tools/train.py flags: amp, auto_scale_lr (GPU-only ones dropped)
    'ensemble',            # WBF settings of the readers ensemble
    'no_finding',          # VinDr-CXR's "no finding" class handling
    'study',               # tools/run_study.py defaults
    'detector_overrides',  # {detector: overrides for that detector only}
    'parallel_arms',       # arms training at once (mmmulti/protocol/parallel.py)
})


def load_scale(path: str) -> Config:
    """Read a scale file; refuse the retired ``cfg = dict(common=..., <detector>=...)``
    layout with a message that says what to write instead."""
    scale = Config.fromfile(path)
    if 'cfg' in scale:
        raise ValueError(
            f'{path}: `cfg = dict(common=..., <detector>=...)` is no longer read. Write the '
            'overrides as top-level keys (`train_cfg = dict(max_epochs=...)`), as in any '
            'config, and those for one detector under `detector_overrides = '
            'dict(<detector>=dict(...))` (see mmmulti/protocol/scale.py).')
    return scale


def arm_overrides(scale: Config, detector: str) -> list[Dict[str, Any]]:
    """The overrides of ``scale`` for an arm trained with ``detector``, in merge order:
    the detector's own first, then those common to every detector."""
    common = {k: v for k, v in scale.to_dict().items()
              if k not in PROTOCOL_KEYS and not k.startswith('_')}
    own = dict(scale.get('detector_overrides', {}).get(detector, {}))
    return [own, common]
