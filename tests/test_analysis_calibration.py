"""ECE, Brier, log-loss and AUC on cases computed by hand."""
import math

import numpy as np
import pytest

from mmmulti.analysis.calibration import (brier_score, calibration_summary,
                                          expected_calibration_error, log_loss,
                                          reliability_bins, roc_auc)


def test_ece_by_hand():
    # bin [0.2, 0.3): p 0.2, 0.2 -> outcomes 0, 1 (rate 0.5, |0.2 - 0.5| = 0.3)
    # bin [0.9, 1.0]: p 0.9, 1.0 -> outcomes 1, 1 (mean p 0.95, |0.95 - 1| = 0.05)
    p, y = [0.2, 0.2, 0.9, 1.0], [0, 1, 1, 1]
    assert expected_calibration_error(p, y) == pytest.approx(0.5 * 0.3 + 0.5 * 0.05)
    bins = reliability_bins(p, y)
    assert [b['boxes'] for b in bins] == [2, 2]
    assert bins[1]['low'] == 0.9 and bins[1]['predicted'] == pytest.approx(0.95)
    # perfectly calibrated in every bin
    assert expected_calibration_error([0.5, 0.5], [0, 1]) == 0.0


def test_brier_and_log_loss_by_hand():
    p, y = [0.8, 0.3], [1, 0]
    assert brier_score(p, y) == pytest.approx((0.2 ** 2 + 0.3 ** 2) / 2)
    assert log_loss(p, y) == pytest.approx(-(math.log(0.8) + math.log(0.7)) / 2)
    # clipped, finite at 0 and 1
    assert np.isfinite(log_loss([0.0, 1.0], [1, 0]))


def test_auc_by_hand_with_ties():
    # positives 0.9, 0.5; negatives 0.5, 0.1: pairs (0.9>0.5) (0.9>0.1) (0.5=0.5: 1/2)
    # (0.5>0.1) -> 3.5 / 4
    assert roc_auc([0.9, 0.5, 0.5, 0.1], [1, 1, 0, 0]) == pytest.approx(3.5 / 4)
    assert roc_auc([0.1, 0.9], [1, 0]) == 0.0
    assert roc_auc([0.3, 0.3, 0.3], [1, 0, 1]) == pytest.approx(0.5)
    assert math.isnan(roc_auc([0.2, 0.4], [1, 1]))


def test_bad_values_refused():
    with pytest.raises(ValueError, match='in \\[0, 1\\]'):
        brier_score([1.5], [1])
    with pytest.raises(ValueError, match='0 or 1'):
        brier_score([0.5], [2])
    with pytest.raises(ValueError, match='2 predictions but 1'):
        roc_auc([0.5, 0.2], [1])
    s = calibration_summary([], [])
    assert s['boxes'] == 0 and math.isnan(s['ece'])
