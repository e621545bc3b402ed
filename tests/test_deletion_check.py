"""Deletion checks: p_drop is a valid p-value for persons the deletion did not concern, exact cases, verdict rules, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from privaudit.deletion_check import cli_deletion_check, deletion_tests, deletion_verdict
from privaudit.exceptions import ConfigError

ALPHA = 0.05


def _persons(n: int, k: int, prefix: str) -> np.ndarray:
    return np.repeat([f"{prefix}{i}" for i in range(n)], k)


def _model_pair(rng, n_persons: int, k: int, shift_before: float, shift_after: float):
    """Scores of n persons of k records on two models: a person effect shared by both models, fresh noise per model."""
    effect = np.repeat(rng.normal(0.0, 1.0, n_persons), k)
    before = effect + shift_before + rng.normal(0.0, 1.0, effect.size)
    after = effect + shift_after + rng.normal(0.0, 1.0, effect.size)
    return after, before


@pytest.mark.parametrize("k", [1, 3, 5])
def test_p_drop_and_p_after_are_uniform_for_persons_the_deletion_did_not_concern(k):
    """A non-member person checked for deletion: p_drop (and the after-test's p) uniform, FPR at α within α + 3σ (800 persons)."""
    rng = np.random.default_rng(k)
    n_runs, n_null = 800, 150
    p_drop, p_after = np.empty(n_runs), np.empty(n_runs)
    for run in range(n_runs):
        null_after, null_before = _model_pair(rng, n_null, k, 0.0, 0.0)
        after, before = _model_pair(rng, 1, k, 0.0, 0.0)
        result, _, _, _ = deletion_tests(after, before, np.repeat(["checked"], k), null_after, null_before, _persons(n_null, k, "n"),
                                      alpha=ALPHA, seed=run)
        p_drop[run], p_after[run] = result[0].p_drop, result[0].p_after
    sigma = np.sqrt(ALPHA * (1 - ALPHA) / n_runs)
    for p in (p_drop, p_after):
        # discrete p-values on a grid of 1/(n_null + 1): jitter within the cell for the KS test, as the grid's exact uniform law
        jittered = p - rng.uniform(0.0, 1.0 / (n_null + 1), p.size)
        assert stats.kstest(jittered, "uniform").pvalue > 0.01
        assert (p <= ALPHA).mean() <= ALPHA + 3 * sigma


def test_p_drop_exact_case_with_log_likelihood_ratios():
    """Δ = T_after − T_before with summed LLRs; the null persons' Δs are −1, 0, 1, −7: p_drop = (1 + #{Δ_null ≤ −6}) / 5."""
    null_persons = _persons(4, 2, "n")
    null_before = np.array([1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 4.0, 3.0])
    null_after = np.array([0.0, 0.0, 0.0, 0.0, 0.5, 0.5, 0.0, 0.0])
    after, before = np.array([0.0, 0.0]), np.array([3.0, 3.0])
    llr = {"after": (after, null_after), "before": (before, null_before)}
    result, method, how, _ = deletion_tests(after, before, np.array(["ann", "ann"]), null_after, null_before, null_persons, llr=llr)
    (ann,) = result
    assert method == "llr_sum" and ann.delta == pytest.approx(-6.0) and ann.statistic_before == pytest.approx(6.0)
    assert ann.p_drop == pytest.approx(2 / 5) and ann.n_null_persons == 4 and "4 real non-member persons" in how[2]
    # ties count against the person: a null Δ equal to hers counts
    tied = deletion_tests(after, before, np.array(["ann", "ann"]), null_after, null_before, null_persons,
                          llr={"after": (after, null_after), "before": (np.array([3.0, 4.0]), null_before)})[0][0]
    assert tied.delta == pytest.approx(-7.0) and tied.p_drop == pytest.approx(2 / 5)


def test_deleted_kept_and_undetectable_persons_get_the_verdicts_the_evidence_supports():
    rng = np.random.default_rng(0)
    k, n_null = 3, 400
    null_after, null_before = _model_pair(rng, n_null, k, 0.0, 0.0)
    deleted = _model_pair(rng, 10, k, 4.0, 0.0)   # member before, forgotten after
    kept = _model_pair(rng, 10, k, 4.0, 4.0)      # still a member after
    never = _model_pair(rng, 10, k, 0.0, 0.0)     # never a member
    after = np.concatenate([deleted[0], kept[0], never[0]])
    before = np.concatenate([deleted[1], kept[1], never[1]])
    persons = np.concatenate([_persons(10, k, "d"), _persons(10, k, "k"), _persons(10, k, "x")])
    member_after, member_before = _model_pair(rng, 300, k, 4.0, 4.0)
    result, _, _, _ = deletion_tests(after, before, persons, null_after, null_before, _persons(n_null, k, "n"),
                                  member_before=member_before, member_persons=_persons(300, k, "m"), alpha=ALPHA)
    by = {p.person[0]: [] for p in result}
    for p in result:
        by[p.person[0]].append(p)
    assert sum(p.still_detectable for p in by["d"]) == 0 and sum(p.still_detectable for p in by["k"]) >= 6
    assert sum("as a deletion would" in p.verdict for p in by["d"]) >= 8
    assert all(p.verdict.startswith("Still detectable") for p in by["k"] if p.still_detectable)
    assert sum(p.verdict.startswith("Cannot tell") for p in by["x"]) >= 8
    assert not any(p.still_detectable for p in by["x"])
    assert all(0.8 < p.power <= 1.0 and p.power_ci[0] <= p.power <= p.power_ci[1] for p in result)


def test_verdict_wording_never_claims_deletion_without_the_change_test():
    assert deletion_verdict(0.001, 0.01, 0.001, 0.9, 0.9, ALPHA, 0.5, 3).startswith("Still detectable after deletion")
    undetectable = deletion_verdict(0.5, 0.5, 0.4, 0.01, 0.02, ALPHA, 0.3, 3)
    assert undetectable.startswith("Cannot tell") and "power for a person of 3 record(s) before deletion is 30 %" in undetectable
    assert "did change on this person more than on non-members (p_drop = 0.01, q = 0.02)" in undetectable
    assert "change p_drop = 0.01." in deletion_verdict(0.5, 0.5, 0.4, 0.01, 0.2, ALPHA, 0.3, 3)
    weak = deletion_verdict(0.5, 0.5, 0.01, 0.4, 0.4, ALPHA, 0.3, 1)
    assert "not distinguishable from non-members'" in weak and "as a deletion would" not in weak and "record of 1" in weak
    assert "could not be measured" in deletion_verdict(0.5, 0.5, 0.4, 0.4, 0.4, ALPHA, float("nan"), 5)
    adjusted = deletion_verdict(0.01, 0.2, 0.001, 0.5, 0.6, ALPHA, 0.4, 3)
    assert adjusted.startswith("No significant trace after deletion once every checked person is counted (p = 0.01, q = 0.2 > 0.05)")
    assert deletion_verdict(0.01, 0.2, 0.3, 0.5, 0.6, ALPHA, 0.4, 3).startswith("Cannot tell")


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"record_pairs": ("age=3",)}, "give --records"),
    ({"null": "fabricated"}, "leave out --null fabricated"),
])
def test_cli_hook_refuses_options_a_deletion_check_does_not_take(kwargs, message):
    args = {"records_file": "deleted.csv", "record_pairs": (), "target_name": "after", "before": "before", "person_column": None,
            "attack": None, "null": "real", "alpha": ALPHA, "progress": None, **kwargs}
    with pytest.raises(ConfigError, match=message):
        cli_deletion_check(None, ".", **args)


def test_json_and_terminal_forms_carry_the_deletion_block():
    from rich.console import Console

    from privaudit.deletion_check import DeletionResult
    from privaudit.report.deletion_report import deletion_result_to_dict, print_deletion

    rng = np.random.default_rng(1)
    null_after, null_before = _model_pair(rng, 200, 2, 0.0, 0.0)
    after, before = _model_pair(rng, 3, 2, 0.0, 0.0)
    persons, method, how, power = deletion_tests(after, before, _persons(3, 2, "p"), null_after, null_before, _persons(200, 2, "n"),
                                                 member_before=before, member_persons=_persons(3, 2, "p"), power_sizes=(1, 2))
    result = DeletionResult(target="after", before="before", attack="loss", alpha=ALPHA, method=method, persons=persons, null_how=how,
                            by_person=True, power=power)
    document = deletion_result_to_dict(result)
    assert document["kind"] == "deletion" and [p["person"] for p in document["persons"]] == ["p0", "p1", "p2"]
    assert set(document["persons"][0]["deletion"]) == {"before_statistic", "before_p_value", "before_q_value", "delta", "p_drop", "q_drop", "n_null_persons"}
    assert set(document["power_by_size"]) == {"1", "2"} and document["null_how"]["2"].startswith("200 real non-member persons")
    console = Console(width=200, record=True)
    print_deletion(result, console=console)
    text = console.export_text()
    assert "after: after" in text and "p_drop" in text and "still detectable after deletion: 0 of 3" in text


def test_record_level_deletion_check_on_retrained_forests():
    """Record level (no person column): forests before/after dropping 60 members; the same check on both."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    from privaudit.data import audit_data_from_frame
    from privaudit.datasets import make_synthetic_tabular
    from privaudit.deletion_check import check_deletion
    from privaudit.record_input import records_from_frame
    from privaudit.targets import SklearnTarget

    features = [c for c in make_synthetic_tabular(5, seed=0).columns if c not in ("label", "record_id")]
    n_members, n_null, n_population, n_deleted = 600, 1000, 400, 60
    frame = make_synthetic_tabular(n_members + n_null + n_population + n_deleted, label_noise=0.3, seed=11)
    audit = frame.iloc[: n_members + n_null + n_population].copy()
    audit["split"] = ["member"] * n_members + ["nonmember"] * n_null + ["population"] * n_population
    data = audit_data_from_frame(audit, label="label", id_column="record_id", features=features, membership_column="split")

    def forest(rows):
        return make_pipeline(ColumnTransformer([("colour", OneHotEncoder(), ["colour"])], remainder="passthrough"),
                             RandomForestClassifier(n_estimators=100, random_state=0, n_jobs=1)).fit(rows[features], rows.label)

    members = audit.iloc[:n_members]
    before = SklearnTarget(forest(members), name="before")
    after = SklearnTarget(forest(members.iloc[n_deleted:]), name="after")
    deleted = records_from_frame(members.iloc[:n_deleted], data, label="label", id_column="record_id")
    result = check_deletion(after, before, data, deleted, attack="loss", alpha=ALPHA, seed=0)
    assert result.target == "after" and result.before == "before" and not result.by_person and len(result.persons) == n_deleted
    bound = ALPHA * n_deleted + 3 * np.sqrt(ALPHA * (1 - ALPHA) * n_deleted)
    assert sum(p.p_after <= ALPHA for p in result.persons) <= bound and result.still_detectable <= bound
    assert sum(p.p_before <= ALPHA for p in result.persons) >= 12  # an overfit forest: many detectable before (16 of 60 measured)
    dropped = sum(p.p_drop <= ALPHA for p in result.persons)
    assert dropped >= 40  # 56 of 60 measured: forgotten records fall far more than non-members
    assert {p.n_records for p in result.persons} == {1} and "real non-member persons with exactly 1" in result.null_how[1]
    # the same model twice: no record changed, every Δ is 0 and ties count against it, so nothing "changed as a deletion would"
    same = check_deletion(before, before, data, deleted, attack="loss", alpha=ALPHA, seed=0)
    assert all(p.delta == 0 and p.p_drop == 1 for p in same.persons)
    assert not any("as a deletion would" in p.verdict and "changed" in p.verdict for p in same.persons)


def test_detectable_before_is_corrected_over_the_checked_persons():
    """"Detectable before" needs the before-test's BH q ≤ α: a raw before-p of 0.01 among many checked persons is not enough."""
    unadjusted = deletion_verdict(0.5, 0.5, 0.01, 0.01, 0.02, ALPHA, 0.3, 3, q_before=0.3)
    assert unadjusted.startswith("Cannot tell") and "once every checked person is counted (before p = 0.01, q = 0.3 > 0.05" in unadjusted
    assert "detectable before (p = 0.01, q = 0.02)" in deletion_verdict(0.5, 0.5, 0.01, 0.01, 0.02, ALPHA, 0.3, 3, q_before=0.02)


def test_no_checked_non_member_is_called_detectable_before_more_often_than_alpha():
    """Global null (60 checked non-member persons, none deleted, none trained on): the share of runs where ANY verdict says
    "detectable before" stays within α + 3σ (BH over the checked persons controls the family-wise rate under the global null);
    with the raw before-p, about 1 − 0.95^60 ≈ 95 % of runs would carry such a verdict."""
    rng = np.random.default_rng(11)
    n_runs, n_checked, n_null, k = 300, 60, 200, 2
    flagged = 0
    for run in range(n_runs):
        null_after, null_before = _model_pair(rng, n_null, k, 0.0, 0.0)
        after, before = _model_pair(rng, n_checked, k, 0.0, 0.0)
        result, _, _, _ = deletion_tests(after, before, _persons(n_checked, k, "c"), null_after, null_before,
                                         _persons(n_null, k, "n"), alpha=ALPHA, seed=run)
        flagged += any("detectable before (" in p.verdict for p in result)
    assert flagged / n_runs <= ALPHA + 3 * np.sqrt(ALPHA * (1 - ALPHA) / n_runs)


def test_deletion_verdict_with_several_persons_quotes_the_power_and_its_bh_floor():
    several = deletion_verdict(0.5, 0.5, 0.4, 0.01, 0.02, ALPHA, 0.3, 3, q_before=0.6, multiple=8, power_floor=0.05)
    assert ("the test's power for a person of 3 record(s) before deletion is 30 % checked alone; checked with the other 7, "
            "between 5 % (p ≤ α/8 = 0.0063) and 30 %") in several
    assert deletion_verdict(0.5, 0.5, 0.4, 0.01, 0.02, ALPHA, 0.3, 3, power_floor=0.3) == deletion_verdict(0.5, 0.5, 0.4, 0.01, 0.02, ALPHA, 0.3, 3)


def test_deletion_tests_measure_the_floor_at_alpha_over_the_checked_persons():
    from privaudit.deletion_check import DeletionResult
    from privaudit.report.deletion_report import deletion_result_to_dict

    rng = np.random.default_rng(2)
    null_after, null_before = _model_pair(rng, 300, 1, 0.0, 0.0)
    after, before = _model_pair(rng, 10, 1, 0.0, 0.0)
    member_before, _ = _model_pair(rng, 400, 1, 1.5, 0.0)
    persons, method, how, power = deletion_tests(after, before, _persons(10, 1, "p"), null_after, null_before, _persons(300, 1, "n"),
                                                 member_before=member_before, member_persons=_persons(400, 1, "m"))
    member_p = (1 + (np.sort(null_before)[None, :] >= member_before[:, None]).sum(axis=1)) / 301
    assert power[1].value == np.mean(member_p <= ALPHA) and power[1].floor == np.mean(member_p <= ALPHA / 10)
    assert power[1].floor < power[1].value and all(p.power_floor == power[1].floor for p in persons)
    document = deletion_result_to_dict(DeletionResult(target="after", before="before", attack="loss", alpha=ALPHA, method=method,
                                                      persons=persons, null_how=how, by_person=True, power=power))
    assert document["persons"][0]["power"]["bh_floor"]["value"] == power[1].floor
    assert document["power_by_size"]["1"]["bh_floor"]["alpha"] == pytest.approx(ALPHA / 10)
