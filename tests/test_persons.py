"""Person-level tests (privaudit.persons): exact cases, the null-person rules, and calibration by simulation.

The simulations give every person a random effect (records of one person share
``u ~ N(0, 1)``, plus ``e ~ N(0, 1)`` per record), the case where real null
persons are needed: the p-values of fresh non-member persons must be uniform
(KS p > 0.01 over ≥ 800 persons of each size 1, 3 and 5) and flag at most
α + 3σ of them; random groups of records (no person column) must be seen to
fail there, which is why their ``null_how`` warns.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import kstest

from privaudit.exceptions import DataError
from privaudit.metrics.intervals import clopper_pearson
from privaudit.metrics.pvalues import empirical_p_values
from privaudit.persons import MIN_NULL_PERSONS, group_codes, normal_scores, person_power, person_tests

ALPHA = 0.05


def people(rng, n_persons, sizes, *, shift=0.0, prefix="p", effect=1.0):
    """Scores of ``n_persons`` persons, each with a size drawn from ``sizes``: ``shift + effect·u_person + e_record``."""
    size = rng.choice(sizes, n_persons)
    ids = np.repeat([f"{prefix}{i}" for i in range(n_persons)], size)
    u = np.repeat(rng.normal(size=n_persons), size)
    return shift + effect * u + rng.normal(size=ids.size), ids


def fpr_bound(n, alpha=ALPHA):
    return alpha + 3 * np.sqrt(alpha * (1 - alpha) / n)


# ---------------------------------------------------------------- exact cases


def test_single_records_reduce_to_the_record_p_value():
    rng = np.random.default_rng(0)
    null = rng.normal(size=300)
    checked = np.array([3.0, 0.1, -2.0, 1.2])
    t = person_tests(checked, ["a", "b", "c", "d"], null, [f"n{i}" for i in range(300)])
    # the normal-score transform is monotone in the pool, so a 1-record person gets the record's conformal p-value
    np.testing.assert_allclose(t.p_value, empirical_p_values(checked, null))
    assert t.n_null_persons.tolist() == [300] * 4 and t.method == "normal_scores"
    assert t.null_how[0].startswith("300 real non-member persons with exactly 1 record")


def test_llr_sum_exact_case_and_ties_count_against_the_person():
    # null persons: x (0.5 + 0.5 = 1), y (2 + 1 = 3), z (-1 + 0 = -1); checked ann: 2 + 1 = 3 ties y
    t = person_tests([9.0, 9.0], ["ann", "ann"], [0, 0, 0, 0, 0, 0], list("xxyyzz"),
                     checked_llr=[2.0, 1.0], null_llr=[0.5, 0.5, 2.0, 1.0, -1.0, 0.0], min_null_persons=1)
    assert t.method == "llr_sum" and t.statistic.tolist() == [3.0]
    assert t.p_value.tolist() == [pytest.approx(2 / 4)]  # (1 + #{1 tie}) / (1 + 3)
    np.testing.assert_allclose(np.sort(t.null_statistics[2]), [-1.0, 1.0, 3.0])


def test_a_checked_person_is_left_out_of_the_null_and_exclude_works():
    null = np.arange(6.0)
    ids = list("aabbcc")
    t = person_tests([10.0, 10.0], ["c", "c"], null, ids, min_null_persons=1)
    assert t.left_out == 1 and t.n_null_persons.tolist() == [2]
    assert t.p_value.tolist() == [pytest.approx(1 / 3)]
    t = person_tests([10.0, 10.0], ["c", "c"], null, ids, exclude=["a"], min_null_persons=1)
    assert t.left_out == 2 and t.n_null_persons.tolist() == [1]
    assert not t.can_reach(0.05)[0] and t.can_reach(0.5)[0]


def test_exact_size_rule_then_reduction_then_nothing():
    # 3 persons with 2 records, 5 with 4 records
    ids = np.repeat([f"two{i}" for i in range(3)], 2).tolist() + np.repeat([f"four{i}" for i in range(5)], 4).tolist()
    null = np.random.default_rng(1).normal(size=len(ids))
    t = person_tests(np.zeros(2 + 4 + 5), ["a"] * 2 + ["b"] * 4 + ["c"] * 5, null, ids, min_null_persons=4)
    by_person = dict(zip(t.persons, zip(t.n_null_persons.tolist(), t.null_how)))
    assert by_person["a"][0] == 8 and "at least 2 records, each reduced to a seeded random 2" in by_person["a"][1]
    assert by_person["b"][0] == 5 and "exactly 4" in by_person["b"][1]
    assert by_person["c"][0] == 0 and "no real non-member person has 5" in by_person["c"][1]
    assert t.p_value[t.persons.index("c")] == 1.0
    assert t.for_size(4).persons == ["b"]


def test_random_groups_without_person_ids_say_what_they_assume():
    t = person_tests([1.0, 2.0, 3.0], ["a", "a", "a"], np.arange(10.0), None)
    assert t.n_null_persons.tolist() == [3]
    assert "random groups" in t.null_how[0] and "independent" in t.null_how[0] and "too small" in t.null_how[0]


def test_group_codes_and_normal_scores():
    persons, codes = group_codes(["b", "a", "b", 3])
    assert persons == ["b", "a", "3"] and codes.tolist() == [0, 1, 0, 2]
    z = normal_scores(np.array([1.0, 1.0, 5.0, -2.0]))
    assert z[0] == z[1] and z[3] < z[0] < z[2] and abs(z.sum()) < 1e-12


def test_bad_input_is_one_clear_error():
    with pytest.raises(DataError, match="finite"):
        person_tests([np.nan], ["a"], [0.0], None)
    with pytest.raises(DataError, match="one person id per checked record"):
        person_tests([1.0, 2.0], ["a"], [0.0], None)
    with pytest.raises(DataError, match="both"):
        person_tests([1.0], ["a"], [0.0], None, checked_llr=[1.0])
    with pytest.raises(DataError, match="one person id per null record"):
        person_tests([1.0], ["a"], [0.0, 1.0], ["x"])


# ---------------------------------------------------------------- calibration by simulation


@pytest.mark.parametrize("use_llr", [False, True])
def test_non_member_persons_are_calibrated_with_a_person_effect(use_llr):
    rng = np.random.default_rng(2024)
    null, null_ids = people(rng, 20_000, [1, 2, 3, 4, 5], prefix="n")
    parts = [people(rng, 900, [k], prefix=f"c{k}_") for k in (1, 3, 5)]
    checked = np.concatenate([p[0] for p in parts])
    checked_ids = np.concatenate([p[1] for p in parts])
    llr = {"checked_llr": 0.3 * checked, "null_llr": 0.3 * null} if use_llr else {}
    t = person_tests(checked, checked_ids, null, null_ids, seed=3, **llr)
    for k in (1, 3, 5):
        sized = t.for_size(k)
        assert len(sized.persons) == 900 and sized.n_null_persons.min() >= MIN_NULL_PERSONS
        assert "exactly" in sized.null_how[0]
        assert kstest(sized.p_value, "uniform").pvalue > 0.01
        assert (sized.p_value <= ALPHA).mean() <= fpr_bound(900)


def test_reduced_null_persons_stay_calibrated_when_size_does_not_matter():
    rng = np.random.default_rng(7)
    null, null_ids = people(rng, 6_000, [5, 6, 7], prefix="n")  # nobody has exactly 1 or 3 records
    parts = [people(rng, 900, [k], prefix=f"c{k}_") for k in (1, 3)]
    t = person_tests(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]), null, null_ids, seed=5)
    for k in (1, 3):
        sized = t.for_size(k)
        assert "reduced to a seeded random" in sized.null_how[0]
        assert kstest(sized.p_value, "uniform").pvalue > 0.01
        assert (sized.p_value <= ALPHA).mean() <= fpr_bound(900)


def test_random_groups_are_too_narrow_under_a_person_effect():
    """Why random groups warn: with a person effect, fresh non-member persons of 5 records are flagged far beyond α."""
    rng = np.random.default_rng(11)
    null, _ = people(rng, 4_000, [5], prefix="n")
    checked, ids = people(rng, 900, [5], prefix="c")
    t = person_tests(checked, ids, null, None, seed=1)
    assert (t.p_value <= ALPHA).mean() > fpr_bound(900)
    # with independent records (no person effect) the same random-group null is calibrated
    null, _ = people(rng, 4_000, [5], prefix="n", effect=0.0)
    checked, ids = people(rng, 900, [5], prefix="c", effect=0.0)
    t = person_tests(checked, ids, null, None, seed=1)
    assert kstest(t.p_value, "uniform").pvalue > 0.01 and (t.p_value <= ALPHA).mean() <= fpr_bound(900)


def test_power_grows_with_records_and_is_alpha_for_non_members():
    rng = np.random.default_rng(5)
    null, null_ids = people(rng, 6_000, [1, 3, 5], prefix="n", effect=0.3)
    members, member_ids = people(rng, 1_500, [1, 3, 5], prefix="m", shift=0.5, effect=0.3)
    power = person_power(members, member_ids, null, null_ids, [1, 3, 5], ALPHA, seed=2)
    assert set(power) == {1, 3, 5}
    assert power[1][0] < power[3][0] < power[5][0]
    for p, (low, high), n, floor, _ in power.values():
        assert low <= p <= high and n >= 400 and floor == p  # one checked person: alpha / 1 = alpha
    fresh, fresh_ids = people(rng, 3_000, [1, 3, 5], prefix="f", effect=0.3)
    for p, _, n, _, _ in person_power(fresh, fresh_ids, null, null_ids, [1, 3, 5], ALPHA, seed=2).values():
        assert p <= fpr_bound(n)
    assert person_power(members, member_ids, null, null_ids, [9], ALPHA)[9][2] == 0


def test_online_reference_design_keeps_a_persons_records_together():
    from privaudit.reference.design import reference_keep_mask

    groups = np.repeat([f"p{i}" for i in range(40)], [1, 3, 5, 2] * 10)
    keep = reference_keep_mask(groups.size, 8, seed=3, groups=groups)
    assert keep.shape == (groups.size, 8) and keep.sum(axis=1).tolist() == [4] * groups.size
    for g in np.unique(groups):
        rows = keep[groups == g]
        assert (rows == rows[0]).all()  # IN or OUT of each model together
    per_model = np.array([[keep[groups == g][0, m] for g in np.unique(groups)] for m in range(8)]).sum(axis=1)
    assert per_model.max() - per_model.min() <= 1  # balanced in persons
    np.testing.assert_array_equal(keep, reference_keep_mask(groups.size, 8, seed=3, groups=groups))
    with pytest.raises(DataError, match="one group per record"):
        reference_keep_mask(5, 8, seed=3, groups=groups)


def test_online_audit_design_uses_the_data_person_column():
    import pandas as pd

    from privaudit.data import audit_data_from_frame
    from privaudit.reference.design import reference_design

    persons = np.repeat([f"p{i}" for i in range(30)], 3)
    frame = pd.DataFrame({"x": np.arange(persons.size, dtype=float), "label": np.arange(persons.size) % 2, "person": persons,
                          "split": np.repeat(["member", "nonmember", "population"], 30)})
    data = audit_data_from_frame(frame, label="label", features=["x"], membership_column="split", person_column="person")
    pool, keep = reference_design(data, 4, seed=0, mode="online")
    pool_persons = data.person_ids[pool]
    for person in np.unique(pool_persons):
        rows = keep[pool_persons == person]
        assert (rows == rows[0]).all()


def test_person_power_floor_is_the_hand_count_at_alpha_over_m():
    """199 null persons of one record scored 0..198; 20 member persons placed so that j null persons score higher: p = (1 + j)/200."""
    null, null_ids = np.arange(199, dtype=float), np.array([f"n{i}" for i in range(199)])
    j = np.repeat([0, 4, 9, 50], 5)  # p = 0.005, 0.025, 0.05, 0.255, five member persons each
    members, member_ids = 198.5 - j, np.array([f"m{i}" for i in range(20)])
    np.testing.assert_allclose(empirical_p_values(members, null), (1 + j) / 200)
    five = person_power(members, member_ids, null, null_ids, [1], ALPHA, multiple=5)[1]
    # power: p ≤ 0.05 for 15 of 20; floor: p ≤ 0.05/5 = 0.01 for 5 of 20 (the p = 0.005 persons)
    assert (five.value, five.n_member_persons, five.floor) == (15 / 20, 20, 5 / 20)
    assert five.floor_ci95 == pytest.approx(clopper_pearson(5, 20)) and five.ci95 == pytest.approx(clopper_pearson(15, 20))
    alone = person_power(members, member_ids, null, null_ids, [1], ALPHA)[1]
    assert alone.floor == alone.value == 15 / 20 and alone.floor_ci95 == alone.ci95
    assert person_power(members, member_ids, null, null_ids, [9], ALPHA, multiple=5)[9].n_member_persons == 0
