"""An arm's merged config: the data overrides the protocol puts on it, and
what changed between the config an arm was trained with and this run's."""
from __future__ import annotations

from typing import Dict, List

from mmengine.config import Config


def data_overrides(root: str, test_ann: str, val_ann: str) -> Dict:
    """The dataloaders' and evaluators' data paths under ``root``."""
    root = root.rstrip('/') + '/'
    return {
        'train_dataloader': {'dataset': {'data_root': root}},
        'val_dataloader': {'dataset': {'data_root': root}},
        'test_dataloader': {'dataset': {'data_root': root}},
        'val_evaluator': {'ann_file': root + val_ann},
        'test_evaluator': {'ann_file': root + test_ann},
    }


#: in each arm's work dir: the config the protocol merged for it
PROTOCOL_CONFIG = 'protocol_config.py'
#: a key one of two compared configs lacks (None is a value a config can hold)
_MISSING = object()


def _flatten(value, prefix: str = '') -> Dict[str, object]:
    if isinstance(value, dict):
        out: Dict[str, object] = {}
        for k, v in value.items():
            out.update(_flatten(v, f'{prefix}.{k}' if prefix else str(k)))
        return out
    if isinstance(value, (list, tuple)):
        out = {f'{prefix}.#len': len(value)}
        for i, v in enumerate(value):
            out.update(_flatten(v, f'{prefix}.{i}'))
        return out
    return {prefix: value}


def config_changes(old: Config, new: Config) -> List[str]:
    """The dotted keys whose values differ between two configs, ``key: old -> new``."""
    # both through the same text round trip, so tuples and lists compare alike
    a = _flatten(Config.fromstring(old.pretty_text, '.py').to_dict())
    b = _flatten(Config.fromstring(new.pretty_text, '.py').to_dict())
    return [f'{k}: {a.get(k, "(absent)")!r} -> {b.get(k, "(absent)")!r}'
            for k in sorted(set(a) | set(b)) if a.get(k, _MISSING) != b.get(k, _MISSING)]
