"""The reader diagnosis's advice (:mod:`.diagnosis`): an explicit rule over the
readers' agreement, the held-out check and the nearest simulated preset, with
thresholds set by hand (not tuned) and printed in the report."""
from __future__ import annotations

from collections import OrderedDict
from typing import Dict, Optional

import numpy as np

# -- the recommendation's thresholds (set by hand, not tuned; printed in the report) --
#: calibrated_wbf's held-out ECE must be at least this much below wbf's
ECE_MARGIN = 0.05
#: every method's held-out AUC below this: the confidences do not rank boxes
AUC_NO_SIGNAL = 0.55
#: Krippendorff's alpha below this is "very low" agreement: readers agree no
#: more than chance would on the pooled votes. Units are clusters someone drew,
#: so alpha is biased down: with three readers and rare findings, votes with no
#: signal at all give about -0.5 (every unit 1 present, 2 absent), not 0
ALPHA_LOW = 0.0
#: confirmation of n/n boxes minus that of 1/n boxes below this: agreement
#: does not tell a box a held-out reader will confirm from one it will not
GAP_SMALL = 0.10


# -- the recommendation -----------------------------------------------------------------
def _confirmation_gap(method: dict) -> Optional[dict]:
    """Confirmation of n/n boxes minus that of 1/n boxes, at the n (readers
    left after holding one out) with most boxes."""
    by_n: Dict[int, dict] = {}
    for level, row in method.get('by_agreement', {}).items():
        k, n = (int(v) for v in level.split('/'))
        by_n.setdefault(n, {})[k] = row
    best = None
    for n, rows in by_n.items():
        if n >= 2 and 1 in rows and n in rows:
            boxes = sum(r['boxes'] for r in rows.values())
            if best is None or boxes > best[0]:
                best = (boxes, n, rows[1]['confirmed'], rows[n]['confirmed'])
    if best is None:
        return None
    _, n, low, high = best
    return dict(n=n, confirmed_1_of_n=low, confirmed_n_of_n=high, gap=high - low)


def recommend(alpha: float, heldout: Optional[dict], nearest: Optional[str]) -> dict:
    """The advice, by an explicit rule (thresholds: the module constants).

    With a held-out check:

    1. every method's held-out AUC < AUC_NO_SIGNAL, or alpha < ALPHA_LOW and
       the confirmation gap (n/n minus 1/n, wbf) < GAP_SMALL: agreement carries
       no signal; train on all boxes (the ``baseline`` arm);
    2. else calibrated_wbf's ECE at least ECE_MARGIN below wbf's:
       ``calibrated_earl`` (EARL weights = calibrated confidences);
    3. else ``wbf_earl`` (the paper's agreement weights).

    Without one (no image with three readers) nothing on the data can tell
    the choices apart (alpha alone cannot: its no-signal floor depends on the
    readers per image): the paper's ``wbf_earl``, marked unverified, to be
    compared with the all-boxes baseline.
    """
    ev = OrderedDict(alpha=alpha, nearest_preset=nearest)
    rule = (f'no signal if max held-out AUC < {AUC_NO_SIGNAL} or (alpha < {ALPHA_LOW} and '
            f'confirmation gap n/n - 1/n < {GAP_SMALL}); else calibrated_earl if ECE(wbf) - '
            f'ECE(calibrated_wbf) >= {ECE_MARGIN}; else wbf_earl')
    if not heldout:
        return dict(arm='wbf_earl', fusion='wbf', verified=False, evidence=ev, rule=rule,
                    reason='UNVERIFIED: no held-out check is possible (no image has three '
                    'readers), so nothing in the data tells the fusions apart; the paper\'s '
                    'WBF + EARL is the default, and training it against the all-boxes '
                    'baseline is the only check')
    methods = heldout['methods']
    auc = {k: m['auc'] for k, m in methods.items()}
    ece = {k: m['ece'] for k, m in methods.items()}
    gap = _confirmation_gap(methods['wbf']) if 'wbf' in methods else None
    ev.update(auc=auc, ece=ece, confirmation_gap=gap)
    finite_auc = [v for v in auc.values() if v is not None and np.isfinite(v)]
    max_auc = max(finite_auc) if finite_auc else float('nan')
    no_rank = not finite_auc or max_auc < AUC_NO_SIGNAL
    flat = (np.isfinite(alpha) and alpha < ALPHA_LOW and gap is not None
            and gap['gap'] < GAP_SMALL)
    if no_rank or flat:
        why = (f'every method\'s held-out AUC < {AUC_NO_SIGNAL} (best {max_auc:.3f}): '
               'the confidences do not rank boxes' if no_rank else
               f'alpha {alpha:.3f} < {ALPHA_LOW} and a held-out reader confirms '
               f'{gap["n"]}/{gap["n"]} boxes ({gap["confirmed_n_of_n"]:.3f}) hardly more '
               f'often than 1/{gap["n"]} boxes ({gap["confirmed_1_of_n"]:.3f})')
        return dict(arm='baseline', fusion='all_boxes', verified=True, rule=rule, evidence=ev,
                    reason=why + '; agreement carries no signal, so training on all boxes is '
                    'the safer choice (a published study found all boxes best on real VinDr-CXR)')
    d_ece = ece.get('wbf', float('nan')) - ece.get('calibrated_wbf', float('nan'))
    ev['ece_gain'] = d_ece
    if np.isfinite(d_ece) and d_ece >= ECE_MARGIN:
        return dict(arm='calibrated_earl', fusion='calibrated_wbf', verified=True, rule=rule,
                    evidence=ev, reason=(
                        f'calibrated_wbf\'s held-out ECE {ece["calibrated_wbf"]:.3f} is '
                        f'{d_ece:.3f} below wbf\'s {ece["wbf"]:.3f} (margin {ECE_MARGIN}): '
                        'its confidences are probabilities, use them as EARL weights'))
    return dict(arm='wbf_earl', fusion='wbf', verified=True, rule=rule, evidence=ev, reason=(
        f'agreement ranks boxes (best AUC {max_auc:.3f}) and calibration gains less than '
        f'{ECE_MARGIN} ECE ({d_ece:.3f}): WBF + EARL with agreement weights'))


__all__ = ['recommend', 'ECE_MARGIN', 'AUC_NO_SIGNAL', 'ALPHA_LOW', 'GAP_SMALL']
