"""The max-T test's normal limit is used only where the rank sums are near normal (review of issue 17).

With unbalanced classes and a few records tied apart from the rest (label-only scores, rounded
outputs), the members' rank sum is a near-binomial lattice whatever n: its normal tail understated
P[p ≤ α] many-fold. These tests compute P[p ≤ u] exactly over the hypergeometric law of the
members among the tied records, so nothing here is a smoke run.
"""

import numpy as np
import pytest
from scipy import stats

from privaudit.metrics.familywise import MAX_T_METHOD, NORMAL_MAX_T_METHOD, max_t_test, normal_limit_holds

N_MEMBERS, N_NONMEMBERS, N_APART = 2_000, 200_000, 10
B = 1999


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_few_records_tied_apart_keep_the_p_value_valid_in_its_tail(sign):
    """Ten records score apart (1 vs 0, or −1 vs 0) among 2,000 members and 200,000 non-members: P[p ≤ u] ≤ u."""
    n = N_MEMBERS + N_NONMEMBERS
    scores = np.zeros(n)
    scores[:N_APART] = sign
    pmf = stats.hypergeom.pmf(np.arange(N_APART + 1), n, N_APART, N_MEMBERS)
    p_values = np.empty(N_APART + 1)
    methods = set()
    for x in range(N_APART + 1):  # x of the ten apart records are members: p depends on x only
        is_member = np.zeros(n, dtype=bool)
        is_member[:x] = True
        is_member[N_APART : N_APART + N_MEMBERS - x] = True
        test = max_t_test(scores, is_member, n_permutations=B, seed=x, normal_from=1_000)
        p_values[x] = test.p_upper[0] if sign > 0 else test.p_lower[0]
        methods.add(test.method)
    for u in (0.05, 0.01, 0.001):
        size = pmf[p_values <= u].sum()  # exact over x; the p-values' own Monte-Carlo error is ±3σ of B
        assert size <= u + 3 * np.sqrt(u * (1 - u) / B) + 1e-12, (u, size)
    assert methods == {MAX_T_METHOD}  # the lattice is not normal: relabelled


def test_the_gate_keeps_the_normal_limit_for_continuous_and_rounded_scores():
    rng = np.random.default_rng(3)
    n = N_MEMBERS + N_NONMEMBERS
    is_member = np.zeros(n, dtype=bool)
    is_member[rng.choice(n, N_MEMBERS, replace=False)] = True
    base = rng.normal(size=n)
    scores = np.stack([base, np.round(base, 1), base + 0.1 * rng.normal(size=n)])
    ranks = stats.rankdata(scores, axis=1)
    assert normal_limit_holds(ranks, N_MEMBERS)
    assert max_t_test(scores, is_member, n_permutations=999, normal_from=1_000).method == NORMAL_MAX_T_METHOD
    # a label-only attack (21 % "member" answers) at 1 % members: skewness ≈ 0.03, whose exact tail at u = 0.001
    # is ≈ 0.00118 (18 % over): relabelled
    assert not normal_limit_holds(stats.rankdata((base > 0.8).astype(float))[None, :], N_MEMBERS)
    apart = np.zeros(n)
    apart[:N_APART] = 1.0
    assert not normal_limit_holds(stats.rankdata(apart)[None, :], N_MEMBERS)
    # a single all-tied attack is ignored by the gate (its z is 0 either way)
    assert normal_limit_holds(stats.rankdata(np.stack([base, np.zeros(n)]), axis=1), N_MEMBERS)
