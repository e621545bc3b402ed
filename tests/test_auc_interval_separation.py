"""AUC intervals under complete separation (review of issue 17): never the zero-width point [1, 1].

A true AUC just below 1 (a rare non-member scoring above every member) is observed as exactly 1 in most audits;
the bootstrap's replicates and DeLong's variance are then all degenerate, and [1, 1] missed the true AUC in about
e⁻¹ ≈ 37 % of such audits. Hoeffding's distribution-free interval is used there instead.
"""

import numpy as np
import pytest

from privaudit.metrics import evaluate_scores
from privaudit.metrics.intervals import DELONG_MIN_RECORDS


@pytest.mark.parametrize("n_side", [1_000, DELONG_MIN_RECORDS])
def test_complete_separation_gets_a_valid_interval_not_a_point(n_side):
    rate = 1.0 / n_side  # a non-member scores above every member with this probability: true AUC = 1 − rate
    true_auc = 1.0 - rate
    rng = np.random.default_rng(31)
    is_member = np.r_[np.ones(n_side, bool), np.zeros(n_side, bool)]
    runs, covered, separated = 30, 0, 0
    for _ in range(runs):
        nonmembers = np.where(rng.random(n_side) < rate, 50.0, rng.normal(0.0, 1.0, n_side))
        scores = np.r_[rng.normal(10.0, 1.0, n_side), nonmembers]
        m = evaluate_scores(scores, is_member, n_bootstrap=200, delta=None)
        covered += m.auc_ci[0] <= true_auc <= m.auc_ci[1]
        if m.auc == 1.0:
            separated += 1
            assert m.auc_ci_method == "hoeffding" and m.auc_ci[0] < 1.0
    assert separated >= 5  # the case occurred
    assert covered / runs >= 0.95 - 3 * np.sqrt(0.95 * 0.05 / runs), (covered, runs)


def test_all_tied_scores_keep_their_exact_point():
    """A constant score's AUC is ½ whatever the data (ties count ½): its zero-width interval is exact, not replaced."""
    m = evaluate_scores(np.ones(2_000), np.r_[np.ones(1_000, bool), np.zeros(1_000, bool)], n_bootstrap=50, delta=None)
    assert m.auc == 0.5 and m.auc_ci == (0.5, 0.5) and m.auc_ci_method == "bootstrap"
