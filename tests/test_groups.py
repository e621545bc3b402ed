"""Group vulnerability: metrics per slice, disparity, label builders, config, audit wiring and reports."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from privaudit import audit
from privaudit.config import parse_config
from privaudit.exceptions import ConfigError, DataError
from privaudit.metrics import evaluate_scores
from privaudit.metrics.group_test import auc_difference_p_value, delong_auc_variance, holm_adjust
from privaudit.metrics.groups import (
    age_bands,
    analyse_groups,
    by_class_frequency,
    by_column,
    by_outlierness,
    disparity,
    encode_features,
    exposure_tests,
    labels_from_specs,
    most_exposed,
    slice_metrics,
)
from privaudit.report import print_summary, render_html, report_dict

sys.path.insert(0, str(Path(__file__).parent))
from test_report import build_data, leaky_target  # noqa: E402

FPRS = (0.1, 0.01)


def _leaky_group(n_per_group=400, seed=0):
    """Groups a, b, c; the attack separates members only in group b."""
    rng = np.random.default_rng(seed)
    groups = np.repeat(["a", "b", "c"], 2 * n_per_group)
    is_member = np.tile(np.r_[np.ones(n_per_group, bool), np.zeros(n_per_group, bool)], 3)
    scores = rng.normal(size=groups.size) + 1.5 * (is_member & (groups == "b"))
    return scores, is_member, groups


def test_slice_metrics_equal_evaluate_scores_on_each_subset():
    scores, is_member, groups = _leaky_group()
    found = slice_metrics(scores, is_member, groups, fprs=FPRS, n_bootstrap=100, seed=3)
    assert [g.name for g in found] == ["a", "b", "c"]
    for g in found:
        mask = groups == g.name
        expected = evaluate_scores(scores[mask], is_member[mask], fprs=FPRS, n_bootstrap=100, seed=3)
        assert g.metrics == expected
        assert (g.n_members, g.n_nonmembers) == (expected.n_members, expected.n_nonmembers)
        assert not g.too_small and g.reason is None


def test_leakiest_group_is_the_worst_with_its_interval_above_overall():
    scores, is_member, groups = _leaky_group()
    overall = evaluate_scores(scores, is_member, fprs=FPRS, n_bootstrap=200)
    found = slice_metrics(scores, is_member, groups, fprs=FPRS, n_bootstrap=200)
    d = disparity(found, overall)
    assert d.worst_group == "b"
    assert d.ci_above_overall and d.auc_ci[0] > overall.auc
    assert d.difference == pytest.approx(d.auc - overall.auc) and d.difference > 0.1
    assert d.n_groups_compared == 3
    # a group that leaks like the rest is not flagged above overall
    flat = disparity([g for g in found if g.name != "b"], overall)
    assert flat.worst_group in {"a", "c"}


def test_disparity_not_above_when_no_group_differs():
    rng = np.random.default_rng(1)
    is_member = np.r_[np.ones(600, bool), np.zeros(600, bool)]
    scores = rng.normal(size=1200) + 0.5 * is_member
    groups = rng.choice(["x", "y"], size=1200)
    overall = evaluate_scores(scores, is_member, fprs=FPRS, n_bootstrap=200)
    d = disparity(slice_metrics(scores, is_member, groups, fprs=FPRS, n_bootstrap=200), overall)
    assert not d.ci_above_overall


def test_too_small_groups_are_flagged_with_a_reason_and_skipped_by_disparity():
    scores, is_member, groups = _leaky_group(n_per_group=100)
    groups = groups.astype(object)
    groups[:5] = "tiny"  # 5 members, no non-members
    groups[np.flatnonzero(~is_member)[:3]] = "few"  # 3 non-members, no members
    found = {g.name: g for g in slice_metrics(scores, is_member, groups, fprs=FPRS, n_bootstrap=50)}
    assert found["tiny"].too_small and found["tiny"].metrics is None
    assert "5 members" in found["tiny"].reason and "0 non-members" in found["tiny"].reason
    assert found["few"].too_small and "0 members" in found["few"].reason
    assert found["tiny"].to_dict()["auc"] is None and found["tiny"].to_dict()["tpr_at_fpr"] == {}
    overall = evaluate_scores(scores, is_member, fprs=FPRS, n_bootstrap=50)
    d = disparity(list(found.values()), overall)
    assert d.worst_group not in {"tiny", "few"} and d.n_groups_compared == 3
    only_small = [found["tiny"], found["few"]]
    assert disparity(only_small, overall) is None
    # thresholds are parameters
    relaxed = {g.name: g for g in slice_metrics(scores, is_member, groups, fprs=FPRS, n_bootstrap=50, min_members=1, min_nonmembers=1)}
    assert relaxed["tiny"].too_small  # still no non-members at all


def test_group_labels_must_align_with_scores():
    with pytest.raises(DataError, match="one label per audited record"):
        slice_metrics(np.zeros(4), [1, 1, 0, 0], ["a", "b", "c"])


def test_age_bands_are_half_open_and_ordered():
    bands = age_bands([0, 24.9, 25, 34, 35, 64.99, 65, 90, None])
    assert list(bands) == ["0–25", "0–25", "25–35", "25–35", "35–45", "55–65", "≥65", "≥65", "missing"]
    assert list(bands.categories) == ["0–25", "25–35", "35–45", "45–55", "55–65", "≥65", "missing"]
    config_style = age_bands([17, 25, 70], (-math.inf, 25, 35, 45, 55, 65, math.inf))
    assert list(config_style) == ["<25", "25–35", "≥65"]
    with pytest.raises(DataError, match="outside"):
        age_bands([-1, 30])
    with pytest.raises(DataError, match="increasing"):
        age_bands([30], (0, 40, 20))


def test_by_column_sorts_and_names_missing():
    labels = by_column(["M", "F", np.nan, "F"])
    assert list(labels) == ["M", "F", "missing", "F"]
    assert list(labels.categories) == ["F", "M", "missing"]


def test_class_frequency_rare_and_common():
    population = [0] * 90 + [1] * 7 + [2] * 3
    labels = by_class_frequency([0, 1, 2, 3, 0], population, rare_share=0.1)
    assert list(labels) == ["common", "rare", "rare", "rare", "common"]
    assert list(by_class_frequency([1], population, rare_share=0.05)) == ["common"]
    with pytest.raises(DataError):
        by_class_frequency([0], population, rare_share=1.5)


def test_outlierness_puts_planted_far_points_in_outlier_band():
    rng = np.random.default_rng(0)
    population = rng.normal(size=(500, 4))
    audited = rng.normal(size=(300, 4))
    audited[:20] += 25.0  # far from every population record
    bands = by_outlierness(audited, population, k=10)
    assert list(bands.categories) == ["typical", "unusual", "outlier"]
    assert (np.asarray(bands[:20]) == "outlier").all()
    counts = pd.Series(np.asarray(bands)).value_counts()
    assert set(counts.index) == {"typical", "unusual", "outlier"} and counts.max() - counts.min() <= 1
    five = by_outlierness(audited, population, k=3, n_bands=5)
    assert (np.asarray(five[:20]) == "distance band 5/5").all()


def test_outlierness_standardises_columns():
    """A column on a huge scale must not decide the distances alone."""
    rng = np.random.default_rng(1)
    population = np.c_[rng.normal(size=400), 1e6 * rng.normal(size=400)]
    audited = np.c_[rng.normal(size=200), 1e6 * rng.normal(size=200)]
    audited[:10, 0] = 30.0  # outlying on the small-scale column only
    assert (np.asarray(by_outlierness(audited, population)[:10]) == "outlier").all()


def test_encode_features_one_hot_and_standardised():
    audited = pd.DataFrame({"age": [20.0, 40.0], "sex": ["F", "M"]})
    population = pd.DataFrame({"age": [30.0, 50.0], "sex": ["M", "X"]})
    a, p = encode_features(audited, population)
    assert a.shape == (2, 4) and p.shape == (2, 4)  # age + F/M/X
    np.testing.assert_allclose(p[:, 0], [-1.0, 1.0])
    np.testing.assert_allclose(a[:, 0], [-2.0, 0.0])
    assert a[:, 1:].sum(axis=1).tolist() == [1.0, 1.0]


def test_most_exposed_ranks_by_score_without_features():
    rows = most_exposed([0.2, 0.9, 0.5, 0.9], ["a", "b", "c", "d"], [0, 1, 0, 0], n=3)
    assert rows == [
        {"rank": 1, "record_id": "b", "member": True, "score": 0.9},
        {"rank": 2, "record_id": "d", "member": False, "score": 0.9},
        {"rank": 3, "record_id": "c", "member": False, "score": 0.5},
    ]


# --- config --------------------------------------------------------------------------------------------------

BASE = {"data": {"path": "x.csv", "label": "y", "membership": {"column": "m"}}, "targets": [{"name": "t", "type": "precomputed", "path": "p.csv"}]}


def test_config_accepts_group_entries():
    config = parse_config({**BASE, "groups": [
        {"column": "sex"}, {"column": "age", "bands": [25, 35, 45, 55, 65]}, {"by": "class_frequency", "rare_share": 0.05},
        {"by": "outlierness", "k": 10}, {"by": "label", "name": "income"},
    ]})
    assert [g.column or g.by for g in config.groups] == ["sex", "age", "class_frequency", "outlierness", "label"]
    assert parse_config(BASE).groups is None


@pytest.mark.parametrize("entry, message", [
    ({"column": "sex", "colour": 1}, "unknown key 'groups.0.colour'; allowed keys here: column, by"),
    ({"by": "zodiac"}, "groups.0.by"),
    ({"column": "sex", "by": "label"}, "exactly one of 'column' or 'by'"),
    ({}, "exactly one of 'column' or 'by'"),
    ({"column": "age", "bands": [35, 25]}, "strictly increasing"),
    ({"by": "outlierness", "bands": [1]}, "'bands' applies to a 'column'"),
    ({"column": "age", "k": 3}, "'k' and 'n_bands' apply"),
    ({"by": "label", "rare_share": 0.1}, "'rare_share' applies"),
    ({"by": "outlierness", "k": 0}, "groups.0.k"),
])
def test_config_rejects_bad_group_entries(entry, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(".", r"\.")):
        parse_config({**BASE, "groups": [entry]})


# --- audit wiring and reports -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sliced():
    data, frame = build_data()
    table = frame.assign(sex=np.where(np.arange(len(frame)) % 3 == 0, "F", "M"))  # not a feature: read from the table
    specs = [{"column": "x0", "bands": [-1, 0, 1]}, {"column": "sex"}, {"by": "label"}, {"by": "class_frequency"},
             {"by": "outlierness", "k": 5}]
    groups = labels_from_specs(specs, data, read_table=lambda: table)
    result = audit(data, [leaky_target(data, frame)], n_bootstrap=100, seed=0, groups=groups)
    return data, table, groups, result


def test_labels_from_specs_align_with_audited_records(sliced):
    data, table, groups, _ = sliced
    assert list(groups) == ["x0 band", "sex", "label", "class frequency", "outlierness"]
    assert all(len(v) == data.audited.size for v in groups.values())
    np.testing.assert_array_equal(np.asarray(groups["sex"]), table["sex"].to_numpy()[data.audited])
    assert set(groups["x0 band"].categories) == {"<-1", "-1–0", "0–1", "≥1"}
    with pytest.raises(DataError, match="not among the features"):
        labels_from_specs([{"column": "sex"}], data)
    with pytest.raises(DataError, match="not found"):
        labels_from_specs([{"column": "nope"}], data, read_table=lambda: table)


def test_audit_fills_groups_for_the_best_attack(sliced):
    data, _, groups, result = sliced
    best = result.best("leaky_rf")
    analysis = result.groups["leaky_rf"]
    assert analysis.attack == best.attack
    assert list(analysis.slicings) == list(groups)
    sex = analysis.slicings["sex"]
    for g in sex.groups:
        mask = np.asarray(groups["sex"]) == g.name
        expected = evaluate_scores(best.scores[mask], result.is_member[mask], fprs=result.fprs, n_bootstrap=100, seed=0)
        assert g.metrics == expected
    assert sex.disparity.overall_auc == best.metrics.auc
    assert [r["rank"] for r in analysis.most_exposed] == list(range(1, 21))
    with pytest.raises(DataError, match="labels"):
        analyse_groups(result, {"bad": np.zeros(3)}, n_bootstrap=50)


def test_json_groups_section_has_documented_fields(sliced):
    result = sliced[3]
    document = json.loads(json.dumps(report_dict(result), allow_nan=False))
    section = document["groups"]["leaky_rf"]
    assert set(section) == {"attack", "slicings", "most_exposed"}
    slicing = section["slicings"][0]
    assert set(slicing) == {"name", "groups", "disparity"}
    claim_keys = {"more_exposed", "more_exposed_groups", "p_value", "p_adjusted", "n_tests", "alpha", "correction"}
    assert set(slicing["disparity"]) == {"worst_group", "auc", "auc_ci", "overall_auc", "overall_auc_ci", "difference",
                                         "ci_above_overall", "n_groups_compared"} | claim_keys
    group_keys = {"group", "n_members", "n_nonmembers", "too_small", "reason", "auc", "auc_ci", "advantage", "balanced_accuracy", "tpr_at_fpr",
                  "vs_rest"}
    assert all(set(g) == group_keys for s in section["slicings"] for g in s["groups"])
    assert set(section["most_exposed"][0]) == {"rank", "record_id", "member", "score"}
    # every key is documented in the schema
    schema = (Path(__file__).parents[1] / "docs" / "report-schema.md").read_text()
    for key in {"groups", "slicings", "most_exposed", "ci_above_overall", "n_groups_compared", "too_small", "worst_group", "overall_auc_ci"} | group_keys | claim_keys:
        assert f"`{key}`" in schema, key
    # an audit without groups keeps the old layout
    data, frame = build_data()
    plain = audit(data, [leaky_target(data, frame)], n_bootstrap=50, seed=0)
    assert "groups" not in report_dict(plain)


def test_html_has_group_tables_and_charts(sliced):
    result = sliced[3]
    page = render_html(result)
    assert "<h3>Groups</h3>" in page
    assert page.count("<h4>By ") == 5
    assert "the most exposed group is" in page
    assert page.count('data-plot="groups-0-') == 5
    assert "rec-" not in page.split("<h3>Groups</h3>")[1].split("</section>")[0]  # no ids without show_records
    shown = render_html(result, show_records=True)
    assert "Exposed records and their groups" in shown
    assert result.groups["leaky_rf"].most_exposed[0]["record_id"] in shown


def test_terminal_prints_one_line_per_slicing(sliced):
    from rich.console import Console

    console = Console(record=True, width=200)
    print_summary(sliced[3], console=console)
    text = console.export_text()
    assert sum(line.startswith("By ") for line in text.splitlines()) == 5
    assert "most exposed" in text


# ---------------------------------------------------------------- issue 12: the corrected "more exposed" claim


def test_delong_variance_matches_placement_values_computed_pair_by_pair():
    rng = np.random.default_rng(11)
    scores = rng.integers(0, 6, 90).astype(float)  # many ties
    is_member = rng.random(90) < 0.4
    x, y = scores[is_member], scores[~is_member]
    kernel = (x[:, None] > y[None, :]) + 0.5 * (x[:, None] == y[None, :])
    v10, v01 = kernel.mean(axis=1), kernel.mean(axis=0)
    auc, variance = delong_auc_variance(scores, is_member)
    assert auc == pytest.approx(kernel.mean())
    assert variance == pytest.approx(v10.var(ddof=1) / x.size + v01.var(ddof=1) / y.size)


def test_delong_variance_is_close_to_the_sampling_variance_of_the_auc():
    """Seeded: the mean DeLong variance over 300 samples is within 15 % of the AUC's variance across them."""
    rng = np.random.default_rng(12)
    is_member = np.r_[np.ones(80, bool), np.zeros(80, bool)]
    aucs, variances = [], []
    for _ in range(300):
        auc, var = delong_auc_variance(rng.normal(size=160) + 0.8 * is_member, is_member)
        aucs.append(auc)
        variances.append(var)
    assert np.mean(variances) == pytest.approx(np.var(aucs, ddof=1), rel=0.15)


def test_holm_adjustment_by_hand():
    # sorted 0.01, 0.02, 0.04, 0.30 → 4·0.01, 3·0.02, max(0.06, 2·0.04), max(0.08, 0.30)
    assert holm_adjust([0.04, 0.30, 0.01, 0.02]).tolist() == pytest.approx([0.08, 0.30, 0.04, 0.06])
    assert holm_adjust([0.5, 0.9]).tolist() == [1.0, 1.0]
    assert holm_adjust([]).size == 0
    z, p = auc_difference_p_value(0.6, 0.0, 0.5, 0.0)
    assert p == 1.0  # no variance, no claim
    z, p = auc_difference_p_value(0.75, 0.0009, 0.6, 0.0004)  # logit scale, delta-method variances
    assert z == pytest.approx(math.log(2) / math.sqrt(0.0009 / 0.1875**2 + 0.0004 / 0.24**2))
    assert p == pytest.approx(0.5 * math.erfc(z / math.sqrt(2)))


def test_a_group_that_leaks_more_is_claimed_and_equal_ones_are_not():
    scores, is_member, groups = _leaky_group()
    tests = exposure_tests(scores, is_member, {"g": groups}, alpha=0.05)["g"]
    assert tests["b"].more_exposed and tests["b"].difference > 0.1 and tests["b"].n_tests == 3
    assert not tests["a"].more_exposed and not tests["c"].more_exposed
    assert tests["b"].p_adjusted == pytest.approx(min(1.0, 3 * tests["b"].p_value))  # the smallest p: Holm multiplies by 3


def test_holm_family_spans_every_slicing_and_skips_small_groups():
    scores, is_member, groups = _leaky_group(n_per_group=100)
    halves = np.where(np.arange(scores.size) % 2 == 0, "even", "odd")
    tiny = groups.astype(object).copy()
    tiny[:10] = "tiny"  # 10 members only: too small to test
    tests = exposure_tests(scores, is_member, {"g": groups, "parity": halves, "t": tiny})
    assert "tiny" not in tests["t"]
    assert {t.n_tests for s in tests.values() for t in s.values()} == {3 + 2 + 3}


def test_six_equally_leaking_groups_are_rarely_claimed_more_exposed():
    """Issue 12: the old rule (highest of 6 groups, its CI above overall) claimed a group in 12.5 % of runs; Holm keeps it ≤ α."""
    runs, claims = 150, 0
    is_member = np.tile(np.r_[np.ones(60, bool), np.zeros(60, bool)], 6)
    groups = np.repeat([f"g{i}" for i in range(6)], 120)
    for run in range(runs):
        rng = np.random.default_rng(20_000 + run)
        scores = rng.normal(size=720) + 0.6 * is_member
        claims += any(t.more_exposed for t in exposure_tests(scores, is_member, {"g": groups}, alpha=0.05)["g"].values())
    assert claims / runs <= 0.05 + 2 * math.sqrt(0.05 * 0.95 / runs)


def test_audit_reports_which_correction_over_how_many_groups(sliced):
    result = sliced[3]
    analysis = result.groups["leaky_rf"]
    n_tests = {g.test.n_tests for s in analysis.slicings.values() for g in s.groups if g.test is not None}
    assert len(n_tests) == 1 and n_tests.pop() == sum(g.test is not None for s in analysis.slicings.values() for g in s.groups)
    d = analysis.slicings["sex"].disparity
    assert d.alpha == pytest.approx(1 - result.confidence) and "Holm" in d.correction
    assert set(d.more_exposed_groups) == {g.name for g in analysis.slicings["sex"].groups if g.test is not None and g.test.more_exposed}
    page = render_html(result)
    assert f"Holm-corrected over {d.n_tests} groups across all slicings" in page
