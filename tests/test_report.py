"""Report stage: report.json schema and strictness, scores.csv, verdict wording, HTML and terminal output."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier

from privaudit import AuditData, PrecomputedTarget, RecordSet, SklearnTarget, audit, make_synthetic_tabular
from privaudit.pipeline import TargetSummary
from privaudit.exceptions import UnknownNameError
from privaudit.metrics import DEFAULT_FPRS, MIN_EXPECTED_FALSE_POSITIVES
from privaudit.report import print_summary, render_html, report_dict, verdict, write_report

N_MEMBERS, N_NONMEMBERS, N_POPULATION = 700, 600, 700
RUN_KEYS = {"seed", "config_hash", "config", "versions", "started_at", "duration_s", "data_source", "reference"}
DATA_KEYS = {"n_members", "n_nonmembers", "n_population", "classes", "membership_randomized"}
TARGET_KEYS = {"name", "output_kind", "accuracy_members", "accuracy_nonmembers", "queries"}
RESULT_KEYS = {
    "target", "attack", "signal", "auc", "auc_ci", "tpr_at_fpr", "advantage", "balanced_accuracy",
    "n_members", "n_nonmembers", "confidence", "n_bootstrap", "epsilon_lower_bound", "auc_ci_method",
}
CLAIM_KEYS = {
    "target", "status", "attacks", "alpha", "n_members", "n_nonmembers", "method", "n_permutations", "p_upper", "p_lower",
    "n_simultaneous", "auc_bounds", "evidence", "min_members", "min_nonmembers", "thresholds", "n_attacks", "detected",
    "inverted_attacks",
}
POINT_KEYS = {"tpr", "ci", "fpr_realised", "fpr_ci", "threshold", "true_positives", "false_positives", "supported"}


def _strict_loads(text: str):
    def refuse(constant):
        raise ValueError(f"non-strict JSON constant {constant}")

    return json.loads(text, parse_constant=refuse)


def build_data(n_members=N_MEMBERS, n_nonmembers=N_NONMEMBERS, n_population=N_POPULATION, seed=0):
    n = n_members + n_nonmembers + n_population
    frame = make_synthetic_tabular(n, seed=seed)
    features = frame[[c for c in frame.columns if c.startswith("x")]]
    records = RecordSet(frame["record_id"].to_numpy(), features, frame["label"].to_numpy(), (0, 1))
    order = np.random.default_rng(seed).permutation(n)
    members = np.sort(order[:n_members])
    nonmembers = np.sort(order[n_members:n_members + n_nonmembers])
    population = np.sort(order[n_members + n_nonmembers:])
    return AuditData(records, members, nonmembers, population), frame


def leaky_target(data, frame, name="leaky_rf"):
    """A fully grown forest trained on the members: memorises their noisy labels."""
    features = data.records.features
    forest = RandomForestClassifier(n_estimators=50, random_state=0).fit(features.iloc[data.members], frame["label"].to_numpy()[data.members])
    return SklearnTarget(forest, name=name)


def population_target(data, frame, name="population_rf"):
    """Trained on population records only: members and non-members are equally unseen."""
    features = data.records.features
    forest = RandomForestClassifier(n_estimators=50, random_state=0).fit(features.iloc[data.population], frame["label"].to_numpy()[data.population])
    return SklearnTarget(forest, name=name)


def random_target(frame, name="random_outputs"):
    """Precomputed probabilities that ignore membership entirely."""
    p = np.random.default_rng(1).dirichlet([1.0, 1.0], size=len(frame))
    return PrecomputedTarget(pd.DataFrame({"record_id": frame["record_id"], "0": p[:, 0], "1": p[:, 1]}), name=name)


@pytest.fixture(scope="module")
def result():
    data, frame = build_data()
    targets = [leaky_target(data, frame), population_target(data, frame), random_target(frame)]
    return audit(data, targets, n_bootstrap=200, seed=0)


@pytest.fixture(scope="module")
def written(result, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "nested" / "out"
    return write_report(result, out)


def test_write_report_creates_the_four_files(written):
    assert set(written) == {"json", "scores", "html", "claims"}
    assert [p.name for p in written.values()] == ["report.json", "scores.csv", "report.html", "claims.md"]
    assert all(p.is_file() and p.stat().st_size > 0 for p in written.values())


def test_report_links_to_the_claims_page_shipped_beside_it(written):
    """docs/claims.md is what every report links to: the copy beside report.html is that page, byte for byte."""
    from pathlib import Path

    docs = Path(__file__).resolve().parents[1] / "docs" / "claims.md"
    assert written["claims"].read_text(encoding="utf-8") == docs.read_text(encoding="utf-8")
    html = written["html"].read_text(encoding="utf-8")
    assert '<a href="claims.md">' in html
    for heading in ("## Audit verdict", "## Grades", "Too few records", "Scores inverted", "## Group claims", "## Record checks", "## Text audits"):
        assert heading in docs.read_text(encoding="utf-8"), heading


def test_html_run_section_names_what_was_trusted(result):
    trusted = dataclasses.replace(result, trust={"trust_code": True, "factories": {"net": "mymodels:build"}, "pickles": {},
                                                 "trusted_types": {"forest": ["sklearn.tree._tree.Tree"]}})
    html = render_html(trusted)
    assert "Trusted beyond the defaults: code net: mymodels:build · skops types forest: sklearn.tree._tree.Tree." in html
    assert "Trusted beyond the defaults" not in render_html(dataclasses.replace(result, trust={}))


def test_report_json_has_the_documented_schema(result, written):
    document = _strict_loads(written["json"].read_text(encoding="utf-8"))
    assert set(document) == {"schema_version", "run", "data", "targets", "results", "verdicts", "claims", "notes"}
    assert document["schema_version"] == "1.2"  # 1.1: the optional text key; 1.2: persons
    assert set(document["run"]) == RUN_KEYS
    assert isinstance(document["run"]["versions"], dict) and "numpy" in document["run"]["versions"]
    assert set(document["data"]) == DATA_KEYS
    assert document["data"] == {"n_members": N_MEMBERS, "n_nonmembers": N_NONMEMBERS, "n_population": N_POPULATION, "classes": [0, 1],
                                "membership_randomized": False}
    assert [set(t) for t in document["targets"]] == [TARGET_KEYS] * 3
    assert len(document["results"]) == len(result.results)
    fpr_keys = {format(f, "g") for f in DEFAULT_FPRS}
    assert fpr_keys == {"0.1", "0.01", "0.001", "0.0001"}
    for entry, attack_result in zip(document["results"], result.results):
        assert set(entry) == RESULT_KEYS
        assert (entry["target"], entry["attack"]) == (attack_result.target, attack_result.attack)
        assert len(entry["auc_ci"]) == 2 and entry["auc_ci"][0] <= entry["auc"] <= entry["auc_ci"][1]
        assert set(entry["tpr_at_fpr"]) == fpr_keys
        for point in entry["tpr_at_fpr"].values():
            assert set(point) == POINT_KEYS
            assert len(point["ci"]) == 2 and len(point["fpr_ci"]) == 2
    assert set(document["verdicts"]) == {t.name for t in result.targets}
    assert set(document["claims"]) == {t.name for t in result.targets}
    for claim in document["claims"].values():
        assert set(claim) == CLAIM_KEYS
        assert claim["status"] in ("none_detected", "weak", "clear", "severe") and claim["n_attacks"] == len(claim["p_upper"])
    assert all(isinstance(note, str) and note for note in document["notes"])
    assert any("optimistic" in note for note in document["notes"])
    assert any(str(MIN_EXPECTED_FALSE_POSITIVES) in note and "support" in note for note in document["notes"])


def test_supported_flags_follow_the_sample_size(written):
    document = _strict_loads(written["json"].read_text(encoding="utf-8"))
    expected = {"0.1": True, "0.01": False, "0.001": False, "0.0001": False}  # 600 non-members: 60, 6, 0.6, 0.06 expected FPs
    for entry in document["results"]:
        assert {key: point["supported"] for key, point in entry["tpr_at_fpr"].items()} == expected
        for key, point in entry["tpr_at_fpr"].items():
            assert point["supported"] == (entry["n_nonmembers"] * float(key) >= MIN_EXPECTED_FALSE_POSITIVES)


def test_report_json_is_strict_when_values_are_not_finite(result):
    broken = dataclasses.replace(
        result,
        targets=[TargetSummary(t.name, t.output_kind, float("nan"), float("inf")) for t in result.targets],
        duration_s=float("nan"),
    )
    document = report_dict(broken)
    text = json.dumps(document, allow_nan=False)  # raises if anything non-finite survived
    reloaded = _strict_loads(text)
    assert reloaded["targets"][0]["accuracy_members"] is None
    assert reloaded["targets"][0]["accuracy_nonmembers"] is None
    assert reloaded["run"]["duration_s"] is None
    # thresholds of points reached only by "flag nothing" (+inf) are null too
    thresholds = [p["threshold"] for r in reloaded["results"] for p in r["tpr_at_fpr"].values()]
    assert all(t is None or math.isfinite(t) for t in thresholds)


def test_scores_csv_has_one_row_per_audited_record(result, written):
    table = pd.read_csv(written["scores"], dtype={"record_id": str})
    score_columns = [f"{r.target}/{r.attack}" for r in result.results]
    assert list(table.columns) == ["record_id", "membership", "label", *score_columns]
    assert len(table) == N_MEMBERS + N_NONMEMBERS == result.record_ids.size
    assert (table["record_id"].to_numpy() == result.record_ids.astype(str)).all()
    assert table["membership"].value_counts().to_dict() == {"member": N_MEMBERS, "nonmember": N_NONMEMBERS}
    assert ((table["membership"] == "member").to_numpy() == result.is_member).all()
    assert set(table["label"]) <= set(result.classes)
    for column, attack_result in zip(score_columns, result.results):
        np.testing.assert_array_equal(table[column].to_numpy(), attack_result.scores)
    assert not {"x0", "x1", "colour"} & set(table.columns)  # never raw features


def test_verdict_is_graded_and_names_its_correction(result):
    leaky = verdict(result, "leaky_rf")
    best = result.best("leaky_rf")
    claim = result.claims["leaky_rf"]
    assert claim.detected and claim.n_attacks == 6
    assert leaky.startswith(f"{claim.status.capitalize()} membership leakage: the corrected test over all attacks finds leakage")
    assert "max-T permutation test" in leaky and "over 6 attacks" in leaky
    assert f"AUC {best.metrics.auc:.3f} (95% CI" in leaky
    assert f"{N_MEMBERS} members vs {N_NONMEMBERS} non-members" in leaky
    assert "At 10% false positives it identifies" in leaky  # 10% is the lowest supported FPR here
    assert "At 1% false positives" not in leaky
    assert "slightly optimistic" in leaky and "The best of 6 attacks" in leaky and "Next:" in leaky
    for name in ("population_rf", "random_outputs"):
        text = verdict(result, name)
        assert result.claims[name].status == "none_detected" and min(result.claims[name].p_upper) > 0.05
        assert text.startswith("No leakage detected: the corrected test over all attacks finds none at α = 0.05")
        assert "not proof that the model is private" in text and "LiRA" in text
        assert "leakage:" not in text


def test_report_json_verdicts_are_the_verdict_texts(result, written):
    document = _strict_loads(written["json"].read_text(encoding="utf-8"))
    assert document["verdicts"] == {t.name: verdict(result, t.name) for t in result.targets}


def test_verdict_with_one_attack_does_not_mention_best_of():
    data, frame = build_data(300, 300, 0, seed=1)
    single = audit(data, [leaky_target(data, frame)], ["loss"], n_bootstrap=100)
    text = verdict(single, "leaky_rf")
    assert "membership leakage:" in text and "over 1 attack," in text
    assert "best of" not in text and "optimistic" not in text


def test_verdict_without_any_supported_fpr_says_so():
    data, frame = build_data(100, 50, 0, seed=2)
    small = audit(data, [leaky_target(data, frame)], ["loss"], fprs=(0.1, 0.01), n_bootstrap=100)
    assert not any(op.supported for op in small.results[0].metrics.operating_points.values())
    text = verdict(small, "leaky_rf")
    assert "too few non-members (50)" in text
    assert "identifies" not in text


def test_verdict_unknown_target_names_the_known_ones(result):
    with pytest.raises(UnknownNameError, match="leaky_rf"):
        verdict(result, "no_such_target")


def test_html_is_self_contained_and_has_two_plots_per_target(result):
    page = render_html(result)
    assert page.startswith("<!DOCTYPE html>")
    assert page.count('<svg class="plot"') == 2 * len(result.targets)
    assert "<?xml" not in page and "<!DOCTYPE svg" not in page
    assert "<script" not in page.lower()
    for external in ('src="http', "href=\"http", "url(http", "@import", "<link rel=\"stylesheet"):
        assert external not in page
    assert ' leakage</span>' in page and "no leakage detected</span>" in page and "No leakage detected" in page
    assert "n/a<sup>†</sup>" in page and "needs ≥ 1,000 non-members" in page
    assert "Most exposed records" not in page


def test_html_escapes_names_and_lists_records_only_on_request():
    data, frame = build_data(200, 200, 0, seed=3)
    hostile = audit(data, [random_target(frame, name="evil<script>alert(1)</script>")], ["loss"], n_bootstrap=50)
    page = render_html(hostile, show_records=True)
    assert "<script" not in page
    assert "evil&lt;script&gt;" in page
    assert "Most exposed records" in page
    assert page.count('<svg class="plot"') == 2


def test_print_summary_shows_tables_flags_and_verdicts(result):
    from rich.console import Console

    console = Console(record=True, width=240)
    print_summary(result, console=console)
    text = console.export_text()
    for name in ("leaky_rf", "population_rf", "random_outputs"):
        assert name in text
    assert "n/a†" in text and "needs ≥ 1,000" in text
    assert text.count("Verdict [") == 3
    assert "membership leakage:" in text and "No leakage detected" in text
