"""DeLong's AUC interval where it is used (≥ 50,000 members and non-members), at the edges (review of issue 17).

Coverage of the true AUC within 3σ of 95 % near AUC 0.5 and 0.99, with heavy ties (a 0/1 label-only score),
and with unbalanced classes (50,000 members vs 500,000 non-members). DeLong undercovers near the edges at
small n; these check it does not at the sizes privaudit switches to it.
"""

import numpy as np
import pytest
from scipy import stats

from privaudit.metrics.intervals import DELONG_MIN_RECORDS, delong_auc_interval

SHIFT_99 = float(np.sqrt(2) * stats.norm.ppf(0.99))


def _gaussian(shift):
    return lambda rng, m, n: (rng.normal(shift, 1.0, m), rng.normal(0.0, 1.0, n)), float(stats.norm.cdf(shift / np.sqrt(2)))


CASES = {
    "auc 0.5": (*_gaussian(0.0), DELONG_MIN_RECORDS, DELONG_MIN_RECORDS),
    "auc 0.99": (*_gaussian(SHIFT_99), DELONG_MIN_RECORDS, DELONG_MIN_RECORDS),
    # P(1) = 0.6 for members, 0.4 for non-members: AUC = 0.6·0.6 + ½(0.6·0.4 + 0.4·0.6) = 0.6, every score tied with half the records
    "0/1 ties": (lambda rng, m, n: ((rng.random(m) < 0.6) * 1.0, (rng.random(n) < 0.4) * 1.0), 0.6, DELONG_MIN_RECORDS, DELONG_MIN_RECORDS),
    "unbalanced, auc 0.99": (*_gaussian(SHIFT_99), DELONG_MIN_RECORDS, 10 * DELONG_MIN_RECORDS),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_delong_covers_95_percent_at_the_edges_with_ties_and_unbalanced(case):
    draw, true_auc, n_m, n_n = CASES[case]
    runs = 150 if n_n > n_m else 250
    rng = np.random.default_rng(17)
    is_member = np.r_[np.ones(n_m, bool), np.zeros(n_n, bool)]
    covered = 0
    for _ in range(runs):
        members, nonmembers = draw(rng, n_m, n_n)
        lower, upper, _ = delong_auc_interval(np.r_[members, nonmembers], is_member)
        covered += lower <= true_auc <= upper
    assert abs(covered / runs - 0.95) <= 3 * np.sqrt(0.95 * 0.05 / runs), (case, covered, runs)
