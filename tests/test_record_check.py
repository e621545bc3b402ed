"""Per-record membership tests: p-values, Benjamini–Hochberg, verdicts, calibration and the `check` command."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from privaudit.data import audit_data_from_frame
from privaudit.datasets import make_synthetic_tabular
from privaudit.metrics.intervals import clopper_pearson
from privaudit.metrics.pvalues import benjamini_hochberg, empirical_p_values
from privaudit.record_check import (
    check_records,
    records_from_frame,
    records_from_pairs,
    verdict,
)

FEATURES = ["x0", "x1", "x2", "x3", "x4", "colour"]
ALPHA = 0.05
N_MEMBERS, N_NULL, N_POPULATION, N_HELD_OUT = 400, 8000, 4000, 800


# ---------------------------------------------------------------- pure statistics


def test_empirical_p_values_hand_cases():
    null = np.array([0.0, 1.0, 2.0, 2.5])
    p = empirical_p_values(np.array([3.0, 0.5, 2.0, -1.0]), null)
    # above all: (1+0)/5; three at or above 0.5: 4/5; tie at 2.0 counts: (1+2)/5; below all: 5/5
    np.testing.assert_allclose(p, [0.2, 0.8, 0.6, 1.0])
    assert empirical_p_values(np.array([10.0]), np.zeros(999))[0] == pytest.approx(1 / 1000)  # the floor 1/(n+1)


def test_empirical_p_values_refuse_empty_or_nan_null():
    from privaudit.exceptions import DataError

    with pytest.raises(DataError):
        empirical_p_values(np.array([1.0]), np.array([]))
    with pytest.raises(DataError):
        empirical_p_values(np.array([1.0]), np.array([np.nan, 1.0]))


def test_benjamini_hochberg_hand_case():
    # sorted .01 .03 .04 .2 → m·p/rank = .04 .06 .0533 .2 → running min from the top: .04 .0533 .0533 .2
    q = benjamini_hochberg(np.array([0.01, 0.04, 0.03, 0.2]))
    np.testing.assert_allclose(q, [0.04, 0.16 / 3, 0.16 / 3, 0.2])
    np.testing.assert_allclose(benjamini_hochberg(np.array([0.9, 0.8])), [0.9, 0.9])
    assert benjamini_hochberg(np.array([0.7]))[0] == 0.7


def test_benjamini_hochberg_matches_scipy_and_is_monotone():
    p = np.random.default_rng(0).beta(0.5, 2.0, size=300)
    q = benjamini_hochberg(p)
    np.testing.assert_allclose(q, stats.false_discovery_control(p, method="bh"), rtol=1e-12)
    order = np.argsort(p)
    assert np.all(np.diff(q[order]) >= 0) and np.all(q >= p) and q.max() <= 1


def test_clopper_pearson_matches_scipy():
    low, high = clopper_pearson(7, 40)
    ci = stats.binomtest(7, 40).proportion_ci(confidence_level=0.95, method="exact")
    assert (low, high) == pytest.approx((ci.low, ci.high), rel=1e-9)
    assert clopper_pearson(0, 10)[0] == 0.0 and clopper_pearson(10, 10)[1] == 1.0


def test_verdicts_say_what_they_mean_and_no_more():
    strong = verdict(0.0008, None, 0.05, 0.4, 10_000)
    assert strong.startswith("Strong evidence this record was used in training (p = 0.0008")
    assert "about 1 in 1,250 people who were not in training look this member-like" in strong
    moderate = verdict(0.03, None, 0.05, 0.4, 10_000)
    assert moderate.startswith("Moderate evidence")
    floor = verdict(1 / 1001, None, 0.05, 0.4, 1000)
    assert "p ≤ 0.001" in floor and "smallest p" in floor
    none = verdict(0.31, None, 0.05, 0.42, 10_000)
    assert none.startswith("No evidence this record was used in training")
    assert "not evidence that the record was not used" in none and "about 42 % of training records at α = 0.05" in none
    assert "about 31 % of people who were not in training look at least this member-like" in none  # not "1 in 3"
    # with several records the band follows q, not p
    several = verdict(0.001, 0.2, 0.05, 0.4, 10_000, multiple=50)
    assert several.startswith("No evidence") and "q = 0.2 after Benjamini–Hochberg across 50 records" in several


# ---------------------------------------------------------------- calibration on a synthetic overfit forest


@pytest.fixture(scope="module")
def synthetic_setup():
    """Members (training set of an overfit forest), a large real null, population, and held-out non-members never in the null."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    from privaudit.targets import SklearnTarget

    n_audit = N_MEMBERS + N_NULL + N_POPULATION
    frame = make_synthetic_tabular(n_audit + N_HELD_OUT, label_noise=0.3, seed=5)
    audit_frame = frame.iloc[:n_audit].copy()
    audit_frame["split"] = ["member"] * N_MEMBERS + ["nonmember"] * N_NULL + ["population"] * N_POPULATION
    data = audit_data_from_frame(audit_frame, label="label", id_column="record_id", features=FEATURES, membership_column="split")
    members = audit_frame.iloc[:N_MEMBERS]
    model = make_pipeline(
        ColumnTransformer([("colour", OneHotEncoder(), ["colour"])], remainder="passthrough"),
        RandomForestClassifier(n_estimators=300, random_state=0, n_jobs=1),
    ).fit(members[FEATURES], members.label)
    held_out = records_from_frame(frame.iloc[n_audit:], data, label="label", id_column="record_id")
    return SklearnTarget(model, name="forest"), data, held_out


def _assert_calibrated(result, n):
    p = np.array([r.p_value for r in result.records])
    ks = stats.kstest(p, "uniform")
    fpr = float(np.mean(p <= ALPHA))
    assert ks.pvalue > 0.01, f"p-values of true non-members are not uniform (KS p = {ks.pvalue:.3g})"
    # one-sided 3σ binomial bound: a valid test fails it with probability ≈ 0.1 %, and the file runs it a dozen times
    assert fpr <= ALPHA + 3 * np.sqrt(ALPHA * (1 - ALPHA) / n), f"false-positive rate {fpr:.3f} at α = {ALPHA}"
    return ks.pvalue, fpr


def test_real_null_is_calibrated_and_has_power(synthetic_setup):
    target, data, held_out = synthetic_setup
    result = check_records(target, data, held_out, attack="loss", null="real", alpha=ALPHA)
    assert result.n_null == {"real": N_NULL} and len(result.records) == N_HELD_OUT
    _assert_calibrated(result, N_HELD_OUT)
    # BH across 800 true non-members: (almost) nothing is called a member
    assert sum(r.significant for r in result.records) <= 2
    assert result.power > ALPHA and result.power_ci[0] > ALPHA
    assert all(r.likelihood_ratio is None for r in result.records)
    assert "Benjamini–Hochberg" in result.multiple_testing_note


def test_checked_nonmember_is_left_out_of_its_own_null(synthetic_setup):
    target, data, _ = synthetic_setup
    own = data.records.subset(data.nonmembers[:3])
    result = check_records(target, data, own, attack="loss", null="real")
    scores = np.array([r.score for r in result.records])
    from privaudit.signals import compute_signals

    everything = -compute_signals(target, data.records.subset(data.nonmembers), ["loss"])["loss"]
    for i in range(3):
        expected = empirical_p_values(scores[i : i + 1], np.delete(everything, i))[0]
        assert result.records[i].p_value == pytest.approx(expected)
    assert any("left out of their own null" in note for note in result.notes)


def test_both_nulls_use_the_larger_p_value(synthetic_setup):
    target, data, held_out = synthetic_setup
    result = check_records(target, data, held_out, attack="loss", null="both", n_fabricated=10_000, alpha=ALPHA)
    assert result.n_null == {"real": N_NULL, "fabricated": 10_000}
    assert "population" in result.fidelity["fitted_on"]
    # the larger p decides; a fabricated p below the smallest level its calibration check covers counts as that level
    floor = result.fidelity["score_check"]["calibration"]["checked_down_to"]
    assert result.fidelity["score_check"]["status"] == "calibrated" and floor == 0.001  # 8000 real non-members check α = 0.001
    assert all(r.p_value == max(r.p_values["real"], r.p_values["fabricated"], floor) for r in result.records)
    assert any("larger of the real-null and fabricated-null" in note for note in result.notes)
    _assert_calibrated(result, N_HELD_OUT)
    assert result.power > ALPHA


@pytest.fixture(scope="module")
def fabricated_result(synthetic_setup):
    target, data, held_out = synthetic_setup
    return check_records(target, data, held_out, attack="loss", null="fabricated", n_fabricated=10_000, alpha=ALPHA)


def test_fabricated_null_controls_false_positives_and_reports_fidelity(fabricated_result):
    result = fabricated_result
    assert result.n_null == {"fabricated": 10_000} and result.fidelity["generator"] == "kernel"
    assert isinstance(result.fidelity.get("summary"), str) and "fitted_on" in result.fidelity
    p = np.array([r.p_value for r in result.records])
    assert np.mean(p <= ALPHA) <= ALPHA + 2 * np.sqrt(ALPHA * (1 - ALPHA) / N_HELD_OUT)
    check = result.fidelity["score_check"]
    assert check["n_real"] == N_NULL and check["fpr_ci"][0] <= ALPHA <= check["fpr_ci"][1]  # the same check, on the audit's 8000 non-members
    assert check["ks_p_value"] > 0.01 and not any("miscalibrated" in note for note in result.notes)
    assert result.power > ALPHA


def test_fabricated_null_p_values_are_uniform(fabricated_result):
    _assert_calibrated(fabricated_result, N_HELD_OUT)


@pytest.mark.parametrize("profile_seed", [1, 2])
def test_fabricated_null_is_uniform_for_other_profile_seeds(synthetic_setup, profile_seed):
    target, data, held_out = synthetic_setup
    result = check_records(target, data, held_out, attack="loss", null="fabricated", n_fabricated=10_000, alpha=ALPHA, seed=profile_seed)
    _assert_calibrated(result, N_HELD_OUT)


def test_copula_null_miscalibration_is_detected_and_said(synthetic_setup):
    # measured: on this data the forest scores copula profiles unlike real non-members (KS p ≈ 1e-11);
    # the score check against the audit's real non-members must catch it and the result must say so
    target, data, held_out = synthetic_setup
    result = check_records(target, data, held_out, attack="loss", null="fabricated", n_fabricated=10_000, alpha=ALPHA, generator="copula")
    assert result.fidelity["generator"] == "copula"
    assert result.fidelity["score_check"]["ks_p_value"] < 0.01
    assert any("scores fabricated profiles differently from real non-members" in note for note in result.notes)


# ---------------------------------------------------------------- reference attacks (offline) in check


@pytest.fixture(scope="module")
def reference_plan(synthetic_setup, tmp_path_factory):
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    from privaudit.reference.plan import ReferencePlan
    from privaudit.reference.recipes import SklearnRecipe

    estimator = make_pipeline(
        ColumnTransformer([("colour", OneHotEncoder(), ["colour"])], remainder="passthrough"),
        RandomForestClassifier(n_estimators=100, random_state=0, n_jobs=1),
    )
    return ReferencePlan(SklearnRecipe(estimator, trusted_types=["sklearn.tree._tree.Tree"]), n_models=4, mode="online", train_size=N_MEMBERS,
                         store=tmp_path_factory.mktemp("reference-store"), backend="sequential")


def test_rmia_check_is_calibrated_gives_likelihood_ratios_and_reuses_models(synthetic_setup, reference_plan):
    target, data, held_out = synthetic_setup
    result = check_records(target, data, held_out, attack="rmia", null="real", alpha=ALPHA, reference=reference_plan)
    assert result.attack.startswith("rmia[offline")
    assert any("trained offline" in note for note in result.notes)  # the plan said online; check runs offline
    _assert_calibrated(result, N_HELD_OUT)
    assert result.power_ci[0] > ALPHA
    ratios = np.array([r.likelihood_ratio for r in result.records])
    assert np.all(np.isfinite(ratios)) and np.all(ratios > 0)
    # RMIA's ratio is Pr(x|θ)/Pr(x): records the target fits better than its reference models have ratio > 1
    # and, for true non-members, the typical ratio is near 1 (the target and references saw neither)
    assert 0.5 < np.median(ratios) < 2.0
    # the second check finds every reference model in the store (nothing retrained)
    def models():
        return sorted(p.parent.name for p in reference_plan.store.glob("*/meta.json"))

    before = models()
    assert len(before) == 4
    again = check_records(target, data, held_out.subset(np.arange(5)), attack="rmia", null="real", alpha=ALPHA, reference=reference_plan)
    assert models() == before
    assert [r.record_id for r in again.records] == held_out.ids[:5].tolist()
    np.testing.assert_allclose([r.likelihood_ratio for r in again.records], ratios[:5], rtol=1e-9)


def test_offline_lira_check_has_power_and_no_likelihood_ratio(synthetic_setup, reference_plan):
    target, data, held_out = synthetic_setup
    result = check_records(target, data, held_out, attack="lira", null="real", alpha=ALPHA, reference=reference_plan)
    assert result.attack.startswith("lira[offline")
    _assert_calibrated(result, N_HELD_OUT)
    assert result.power > ALPHA
    assert all(r.likelihood_ratio is None for r in result.records)


def test_reference_attack_refusals(synthetic_setup, reference_plan):
    from privaudit.exceptions import CapabilityError, ConfigError

    target, data, held_out = synthetic_setup
    with pytest.raises(CapabilityError, match="needs reference models: add a 'reference' block"):
        check_records(target, data, held_out, attack="lira")
    with pytest.raises(ConfigError, match="runs reference attacks offline; use mode: offline"):
        check_records(target, data, held_out, attack={"name": "lira", "mode": "online"}, reference=reference_plan)


def test_shadow_model_is_refused_by_check_in_one_line_that_says_why(synthetic_setup, reference_plan):
    """shadow_model takes no mode; check used to add mode: offline and fail with 'has no parameter mode'."""
    from privaudit.exceptions import CapabilityError

    target, data, held_out = synthetic_setup
    for attack in ("shadow_model", {"name": "shadow_model", "per_class": False}):
        with pytest.raises(CapabilityError) as caught:
            check_records(target, data, held_out, attack=attack, reference=reference_plan)
        message = str(caught.value)
        assert "online reference models" in message and "rmia, lira or reference_calibrated_loss" in message, message
        assert "no parameter" not in message and "\n" not in message


# ---------------------------------------------------------------- records from the command line


def test_records_from_pairs_coerces_and_refuses(synthetic_setup):
    from privaudit.exceptions import DataError

    _, data, _ = synthetic_setup
    pairs = ["x0=0.5", "x1=-1", "x2=0", "x3=2e-1", "x4=1", "colour=red", "label=1"]
    records = records_from_pairs(pairs, data, label="label", id_column="record_id")
    assert records.features.dtypes["x0"] == np.float64 and records.features.loc[0, "x3"] == 0.2
    assert records.labels.tolist() == [1] and records.ids.tolist() == ["record-1"]
    for bad, message in [
        (pairs + ["age=3"], "unknown column 'age'"),
        (pairs[1:], "missing x0"),
        (["x0=abc"] + pairs[1:], "column 'x0' needs a number"),
        (pairs[:5] + ["colour=purple", "label=1"], "'purple', which never appears"),
        (pairs[:6] + ["label=7"], "not a class of the data"),
        (pairs + ["x0"], "write each field as key=value"),
    ]:
        with pytest.raises(DataError, match=message):
            records_from_pairs(bad, data, label="label", id_column="record_id")


# ---------------------------------------------------------------- the `check` command


@pytest.fixture(scope="module")
def cli_folder(tmp_path_factory):
    import skops.io as sio
    import yaml
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    folder = tmp_path_factory.mktemp("check")
    frame = make_synthetic_tabular(900, label_noise=0.3, seed=3)
    frame["split"] = ["member"] * 300 + ["nonmember"] * 400 + ["population"] * 200
    frame.to_csv(folder / "records.csv", index=False)
    members = frame.iloc[:300]
    model = make_pipeline(
        ColumnTransformer([("colour", OneHotEncoder(), ["colour"])], remainder="passthrough"),
        RandomForestClassifier(n_estimators=30, random_state=0),
    ).fit(members[FEATURES], members.label)
    sio.dump(model, folder / "forest.skops")
    config = {
        "data": {"path": "records.csv", "label": "label", "id_column": "record_id", "features": FEATURES, "membership": {"column": "split"}},
        "targets": [{"name": "forest", "type": "sklearn", "path": "forest.skops", "trusted_types": sorted(sio.get_untrusted_types(file=folder / "forest.skops"))}],
    }
    (folder / "audit.yaml").write_text(yaml.safe_dump(config))
    frame.iloc[[0, 1, 2, 400, 401]].drop(columns="split").to_csv(folder / "people.csv", index=False)
    return folder


def _run(capsys, *args):
    from privaudit.cli import main

    with pytest.raises(SystemExit) as exited:
        main(list(args))
    captured = capsys.readouterr()
    return exited.value.code, captured.out, captured.err


def test_check_command_with_one_record(cli_folder, capsys):
    row = pd.read_csv(cli_folder / "records.csv").iloc[0]
    pairs = [f"--record={c}={row[c]}" for c in FEATURES + ["label"]]
    code, out, err = _run(capsys, "check", str(cli_folder / "audit.yaml"), *pairs, "--json")
    assert code == 0, err
    result = json.loads(out)
    assert [r["id"] for r in result["records"]] == ["record-1"]
    assert result["records"][0]["q_value"] == result["records"][0]["p_value"]
    assert "no multiple-testing correction" in result["multiple_testing_note"]


def test_check_command_with_a_file_writes_check_json(cli_folder, capsys, tmp_path):
    code, out, err = _run(capsys, "check", str(cli_folder / "audit.yaml"), "--records", str(cli_folder / "people.csv"), "--out", str(tmp_path))
    assert code == 0, err
    assert "rec-000000" in out and "Benjamini–Hochberg" in out and "power at α = 0.05" in out
    saved = json.loads((tmp_path / "check.json").read_text())
    assert len(saved["records"]) == 5 and saved["n_null"]["real"] in (399, 400)
    assert any("left out of their own null" in n for n in saved["notes"])  # rec-000400/401 are non-members


@pytest.mark.parametrize(
    "extra, expected",
    [
        (["--record", "x0=1", "--record", "nope=2"], "unknown column 'nope'"),
        (["--record", "x0=1"], "--record: missing x1"),
        ([], "either as a file"),
        (["--records", "people.csv", "--target", "other"], "no target 'other'"),
        (["--records", "people.csv", "--attack", "lira2"], "unknown attack 'lira2'"),
    ],
)
def test_check_command_errors_are_one_line_with_exit_2(cli_folder, capsys, monkeypatch, extra, expected):
    monkeypatch.chdir(cli_folder)
    code, out, err = _run(capsys, "check", "audit.yaml", *extra)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("privaudit: error: ") and expected in err


# ---------------------------------------------------------------- power and its Benjamini–Hochberg floor


def test_no_evidence_verdict_with_several_records_quotes_the_power_and_its_bh_floor():
    several = verdict(0.3, 0.9, ALPHA, 0.29, 10_000, multiple=12, power_floor=0.08)
    assert ("this test detects about 29 % of training records at α = 0.05 checked alone; checked with the other 11, "
            "between 8 % (p ≤ α/12 = 0.0042) and 29 %") in several
    alone = verdict(0.3, None, ALPHA, 0.29, 10_000, power_floor=0.29)
    assert alone == verdict(0.3, None, ALPHA, 0.29, 10_000)  # one record: the wording is unchanged
    assert "α/" not in alone and "checked alone" not in alone



def test_record_check_power_floor_is_the_member_share_at_alpha_over_m(synthetic_setup):
    from privaudit.pipeline import score_parts
    from privaudit.record_check import check_attack
    from privaudit.report.check_report import check_result_to_dict

    target, data, held_out = synthetic_setup
    several = check_records(target, data, held_out.subset(np.arange(20)), attack="loss", null="real", alpha=ALPHA)
    attack, _ = check_attack("loss", None, [], output_kind=target.output_kind, has_population=True)
    scored, _, _ = score_parts(target, data, attack, {"members": data.records.subset(data.members),
                                                      "real": data.records.subset(data.nonmembers)}, plan=None, seed=0)
    member_p = empirical_p_values(scored["members"], scored["real"])
    hits, floor_hits = int((member_p <= ALPHA).sum()), int((member_p <= ALPHA / 20).sum())
    assert several.power == hits / N_MEMBERS and several.power_floor == floor_hits / N_MEMBERS
    assert several.power_floor_ci == pytest.approx(clopper_pearson(floor_hits, N_MEMBERS))
    floor = check_result_to_dict(several)["power"]["bh_floor"]
    assert floor["alpha"] == pytest.approx(ALPHA / 20) and floor["value"] == several.power_floor
    silent = next(r.verdict for r in several.records if not r.significant)
    assert f"between {100 * several.power_floor:.0f} % (p ≤ α/20 = 0.0025) and {100 * several.power:.0f} %" in silent
    one = check_records(target, data, held_out.subset(np.arange(1)), attack="loss", null="real", alpha=ALPHA)
    assert one.power_floor == one.power and check_result_to_dict(one)["power"]["bh_floor"]["alpha"] == ALPHA
