"""Record-check claims (issue 12): fabricated-null floor and calibration, withheld verdicts, the p floor's upper bound, wording.

Each test here fails on the code before issue 12 (see the report of branch ``record``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from privaudit.data import audit_data_from_frame
from privaudit.datasets import make_synthetic_tabular
from privaudit.metrics.pvalues import empirical_p_values
from privaudit.record_check import check_records, records_from_frame, verdict

FEATURES = ["x0", "x1", "x2", "x3", "x4", "colour"]


def _target(members: pd.DataFrame, seed: int, model: str):
    """An overfit forest (tied scores at loss 0) or gradient-boosted trees (continuous scores)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    from privaudit.targets import SklearnTarget

    estimator = (RandomForestClassifier(n_estimators=40, random_state=seed, n_jobs=1) if model == "forest"
                 else HistGradientBoostingClassifier(max_iter=200, early_stopping=False, random_state=seed))
    fitted = make_pipeline(ColumnTransformer([("colour", OneHotEncoder(), ["colour"])], remainder="passthrough"),
                           estimator).fit(members[FEATURES], members.label)
    return SklearnTarget(fitted, name=model)


def _setup(n_members: int, n_nonmembers: int, n_population: int, n_held_out: int, *, seed: int, population_label_noise=None,
           model: str = "forest"):
    """An overfit target on ``n_members``; non-members, population and held-out non-members from the same source.

    ``population_label_noise`` re-draws that share of the population's labels at random: a population from
    another source than the non-members (labels recorded differently), which the fabricated null's check must catch.
    """
    n_audit = n_members + n_nonmembers + n_population
    frame = make_synthetic_tabular(n_audit + n_held_out, label_noise=0.2, seed=seed)
    if population_label_noise is not None:
        rng = np.random.default_rng(seed + 100)
        rows = np.arange(n_members + n_nonmembers, n_audit)
        flip = rows[rng.random(rows.size) < population_label_noise]
        frame.loc[flip, "label"] = rng.integers(0, 2, flip.size)
    audit_frame = frame.iloc[:n_audit].copy()
    audit_frame["split"] = ["member"] * n_members + ["nonmember"] * n_nonmembers + ["population"] * n_population
    data = audit_data_from_frame(audit_frame, label="label", id_column="record_id", features=FEATURES, membership_column="split")
    held_out = records_from_frame(frame.iloc[n_audit:], data, label="label", id_column="record_id")
    return _target(audit_frame.iloc[:n_members], seed, model), data, held_out


# ---------------------------------------------------------------- the fabricated null's floor follows N, not the profiles


@pytest.fixture(scope="module")
def small_population():
    """200 population records behind 10,000 profiles; 1,000 real non-members; 2,000 held-out non-members and 300 members."""
    return _setup(300, 1000, 200, 2000, seed=11, model="boosted")


def test_fabricated_p_floor_is_one_over_fitted_records_plus_one(small_population):
    target, data, held_out = small_population
    members = data.records.subset(data.members)
    result = check_records(target, data, members, attack="loss", null="fabricated", n_fabricated=10_000)
    p = np.array([r.p_values["fabricated"] for r in result.records])
    # the old p could reach 1/10,001 from 200 fitted records (measured here: ~0.002 for the most member-like members);
    # now nothing goes below 1/201
    assert np.all(p >= 1 / 201 - 1e-12)
    assert result.n_real_records == {"fabricated": 200} and result.n_null == {"fabricated": 10_000}
    assert result.fidelity["score_check"]["n_fitted"] == 200


def test_profile_p_value_floor_and_exact_limit():
    from privaudit.metrics.pvalues import profile_p_values

    fitted = np.array([0.0, 1.0, 2.0, 3.0])
    profiles = np.repeat(fitted, 250)  # bandwidth 0: 1,000 profiles are exact copies of the 4 fitted records
    # above every profile: the floor 1/(N + 1) = 1/5, whatever the number of profiles; otherwise the conformal p over the fitted records
    np.testing.assert_allclose(profile_p_values(np.array([9.0, 2.0, -1.0]), profiles, 4), [1 / 5, 3 / 5, 1.0])
    np.testing.assert_allclose(profile_p_values(np.array([9.0, 2.0, -1.0]), profiles, 4),
                               empirical_p_values(np.array([9.0, 2.0, -1.0]), fitted))


def test_fabricated_null_tail_is_valid_for_held_out_nonmembers(small_population):
    # 2,000 true non-members checked one by one: with N = 200 no p can be ≤ 0.001 (floor 1/201);
    # the old formula (floor 1/10,001) put ~1 % of them there, ten times the nominal rate
    target, data, held_out = small_population
    result = check_records(target, data, held_out, attack="loss", null="fabricated", n_fabricated=10_000)
    p = np.array([r.p_values["fabricated"] for r in result.records])
    assert np.mean(p <= 0.001) == 0.0
    assert np.mean(p <= 0.05) <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / 200)  # the null's randomness: ~N = 200 records, not 2,000
    assert not any(r.significant for r in result.records)


def test_calibration_check_covers_three_levels_and_says_which_cannot_be_checked(small_population):
    target, data, held_out = small_population
    result = check_records(target, data, held_out.subset(np.arange(3)), attack="loss", null="fabricated", n_fabricated=2000)
    calibration = result.fidelity["score_check"]["calibration"]
    rows = {row["alpha"]: row for row in calibration["levels"]}
    assert sorted(rows) == [0.001, 0.01, 0.05]
    # 1,000 real non-members: 0.05 (needs 100) and 0.01 (needs 500) are checked, 0.001 (needs 5,000) is not
    assert rows[0.05]["checkable"] and rows[0.01]["checkable"] and not rows[0.001]["checkable"]
    assert rows[0.001]["passed"] is None and calibration["checked_down_to"] == 0.01
    summary = result.fidelity["score_check"]["summary"]
    assert "α = 0.001 cannot be checked (1,000 real non-members; at least 5,000 are needed)" in summary


def test_fabricated_p_below_the_smallest_checked_level_counts_as_that_level(small_population):
    # 1,000 real non-members check the fabricated null down to α = 0.01 only: a smaller p is claimed as "p ≤ 0.01"
    target, data, _ = small_population
    members = data.records.subset(data.members)
    result = check_records(target, data, members, attack="loss", null="fabricated", n_fabricated=10_000)
    assert result.fidelity["score_check"]["calibration"]["checked_down_to"] == 0.01
    below = [r for r in result.records if r.p_values["fabricated"] < 0.01]
    assert below, "the fixture should give some member a fabricated p below 0.01"
    for r in below:
        assert r.p_value == 0.01 and "counted as 0.01, the smallest level its check covers" in r.verdict
    assert all(r.p_value == max(r.p_values["fabricated"], 0.01) for r in result.records)
    assert any("only down to α = 0.01" in n for n in result.notes)


# ---------------------------------------------------------------- a null that fails its own check: verdicts withheld


@pytest.fixture(scope="module")
def shifted_population():
    """The population's labels are re-drawn at random: profiles drawn from it score worse than real non-members."""
    return _setup(300, 600, 1000, 300, seed=12, population_label_noise=1.0)


def test_miscalibrated_fabricated_null_withholds_every_verdict(shifted_population):
    target, data, held_out = shifted_population
    result = check_records(target, data, held_out, attack="loss", null="fabricated", n_fabricated=5000)
    # the broken null gives too many true non-members a small p ...
    flagged = np.flatnonzero([r.p_values["fabricated"] <= 0.05 for r in result.records])
    assert flagged.size > 0.05 * len(held_out)
    # ... and one of them, checked alone, used to read "Moderate evidence this record was used" above a footnote
    alone = check_records(target, data, held_out.subset(flagged[:1]), attack="loss", null="fabricated", n_fabricated=5000)
    (record,) = alone.records
    assert not record.significant and not record.verdict.startswith(("Strong evidence", "Moderate evidence"))
    assert "the fabricated null is not calibrated for this model: use the real null" in record.verdict
    check = alone.fidelity["score_check"]
    assert check["status"] == "not calibrated" and alone.withheld
    at_05 = next(row for row in check["calibration"]["levels"] if row["alpha"] == 0.05)
    assert at_05["fpr_ci"][0] > 0.05  # it flags significantly more than 5 % of real non-members
    assert all(r.verdict.startswith("Verdict withheld") and not r.significant for r in result.records)


def test_with_both_nulls_a_failed_fabricated_null_leaves_the_real_null_alone(shifted_population):
    target, data, held_out = shifted_population
    result = check_records(target, data, held_out, attack="loss", null="both", n_fabricated=5000)
    assert all(r.p_value == r.p_values["real"] for r in result.records)
    assert result.fidelity["score_check"]["status"] == "not calibrated" and not result.withheld
    assert any("failed its calibration check" in n and "real null alone" in n for n in result.notes)
    real_only = check_records(target, data, held_out, attack="loss", null="real")
    assert result.power == real_only.power
    assert [r.verdict for r in result.records] == [r.verdict for r in real_only.records]


def test_a_fabricated_null_that_cannot_be_checked_is_not_used():
    # 80 real non-members cannot check even α = 0.05 (100 needed): fabricated-null verdicts are withheld
    target, data, held_out = _setup(200, 80, 300, 5, seed=13)
    result = check_records(target, data, held_out, attack="loss", null="fabricated", n_fabricated=2000)
    assert all(r.verdict.startswith("Verdict withheld") for r in result.records)
    assert result.fidelity["score_check"]["status"] == "cannot be checked" and result.withheld
    assert "α = 0.05 cannot be checked (80 real non-members; at least 100 are needed)" in result.fidelity["score_check"]["summary"]


def test_without_population_the_profile_model_is_checked_on_non_members_it_did_not_see():
    target, data, held_out = _setup(200, 400, 0, 5, seed=14)
    result = check_records(target, data, held_out, attack="loss", null="fabricated", n_fabricated=2000)
    assert result.n_real_records == {"fabricated": 200} and result.fidelity["score_check"]["n_real"] == 200
    assert any("random half of the audit's non-members" in n for n in result.notes)


# ---------------------------------------------------------------- wording: the floor, exchangeability, FDR


def test_verdict_at_the_floor_gives_the_exact_95_upper_bound():
    text = verdict(1 / 1001, None, 0.05, 0.4, 1000)
    bound = 1 - 0.05 ** (1 / 1000)  # one-sided Clopper–Pearson on 0 of 1000 (≈ 3/n)
    assert bound == pytest.approx(0.002991, abs=1e-6)
    assert "at most 0.3 % of non-members (about 1 in 334)" in text
    assert "95 % upper bound: one-sided Clopper–Pearson on 0 of 1,000" in text
    assert "1 in 1,001" not in text  # the old "at most about 1 in N" understated the bound threefold


def test_evidence_verdicts_state_exchangeability_and_others_do_not():
    used = verdict(0.002, None, 0.05, 0.4, 10_000)
    assert used.startswith("Strong evidence") and "exchangeable with the null records (same source and period)" in used
    assert "exchangeable" not in verdict(0.4, None, 0.05, 0.4, 10_000)


def test_several_records_say_fdr_not_fwer(small_population):
    target, data, held_out = small_population
    result = check_records(target, data, held_out.subset(np.arange(4)), attack="loss", null="real")
    note = result.multiple_testing_note
    assert "false-discovery rate, not the family-wise error rate" in note


def test_real_null_counts_ties_against_the_record_and_leaves_out_its_own_score():
    from privaudit.record_nulls import real_null_p_values

    null = np.array([1.0, 2.0, 2.0, 3.0])
    ids = np.array(["a", "b", "c", "d"])
    # a fresh record scoring 2.0: three null scores ≥ 2 → (1 + 3) / 5; record 'b' (2.0) without itself: (1 + 2) / 4
    p, left_out = real_null_p_values(np.array([2.0, 2.0, 3.5]), np.array(["new", "b", "e"]), null, ids)
    np.testing.assert_allclose(p, [4 / 5, 3 / 4, 1 / 5])
    assert left_out == 1
    np.testing.assert_allclose(p[[0, 2]], empirical_p_values(np.array([2.0, 3.5]), null))


# ---------------------------------------------------------------- the `check` command says so


@pytest.fixture(scope="module")
def shifted_cli_folder(tmp_path_factory):
    import skops.io as sio
    import yaml
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    folder = tmp_path_factory.mktemp("check-shifted")
    frame = make_synthetic_tabular(1900, label_noise=0.2, seed=12)
    frame["split"] = ["member"] * 300 + ["nonmember"] * 600 + ["population"] * 1000
    frame.loc[900:, "label"] = 1 - frame.loc[900:, "label"]  # the population comes from a source that codes the label the other way
    frame.to_csv(folder / "records.csv", index=False)
    model = make_pipeline(ColumnTransformer([("colour", OneHotEncoder(), ["colour"])], remainder="passthrough"),
                          RandomForestClassifier(n_estimators=40, random_state=0, n_jobs=1)).fit(frame.iloc[:300][FEATURES], frame.iloc[:300].label)
    sio.dump(model, folder / "forest.skops")
    config = {
        "data": {"path": "records.csv", "label": "label", "id_column": "record_id", "features": FEATURES, "membership": {"column": "split"}},
        "targets": [{"name": "forest", "type": "sklearn", "path": "forest.skops", "trusted_types": sorted(sio.get_untrusted_types(file=folder / "forest.skops"))}],
    }
    (folder / "audit.yaml").write_text(yaml.safe_dump(config))
    frame.iloc[[0, 1, 300, 301]].drop(columns="split").to_csv(folder / "people.csv", index=False)
    return folder


@pytest.mark.slow
def test_check_command_prints_and_saves_withheld_verdicts(shifted_cli_folder, tmp_path):
    import json

    from hostile import run_cli

    outcome = run_cli(["check", shifted_cli_folder / "audit.yaml", "--records", shifted_cli_folder / "people.csv", "--null", "fabricated",
                       "--fabricated", "5000", "--out", tmp_path])
    assert outcome.code == 0 and outcome.escaped is None, outcome.err
    assert "verdicts withheld: the fabricated null is not calibrated for this model: use the real null" in " ".join(outcome.out.split())
    saved = json.loads((tmp_path / "check.json").read_text())
    assert saved["withheld"] is True and not any(r["significant"] for r in saved["records"])
    assert saved["n_real_records"]["value"] == {"fabricated": 1000}
    assert saved["fidelity"]["score_check"]["status"] == "not calibrated"
