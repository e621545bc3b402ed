"""Label-only attacks (Choquette-Choo et al. 2021): query signals on targets whose answers are known exactly.

* a linear classifier on 2-D data: the distance to its boundary is analytic,
  |w·x + b| / ‖w ∘ s‖ in standardised units (s: the columns' standard deviations);
* a target that keeps a record's label only inside a known radius of it: the
  share of Gaussian copies inside is 1 − exp(−ρ²/2σ²) in 2-D;
* a target that keeps the label only while a categorical value is unchanged:
  the share of copies kept is 1 − p.

Every query goes through the target's public ``predict`` and is counted per
record; the tests count them independently in a minimal target wrapper.
"""

from __future__ import annotations

import json
import math
from collections import Counter

import numpy as np
import pandas as pd
import pytest

import privaudit
from privaudit import OutputDefence, OutputDefenceTarget, PrecomputedTarget, SklearnTarget
from privaudit.attacks import build_attack
from privaudit.attacks.label_only import LabelOnlyAugmentationAttack, LabelOnlyBoundaryAttack, label_only_attacks_for
from privaudit.pipeline import default_attacks
from privaudit.data import RecordSet
from privaudit.exceptions import CapabilityError, ConfigError
from privaudit.query_signals import FeatureSpace, compute_query_signals, query_request
from privaudit.query_signals.boundary import MAX_REFINEMENT_STEPS

W, B = np.array([1.0, 2.0]), 0.5  # the linear target predicts 1 iff w·x + b > 0


class Linear:
    """A fixed linear classifier over columns x1, x2 (no fitting)."""

    classes_ = np.array([0, 1])

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        return (features[["x1", "x2"]].to_numpy() @ W + B > 0).astype(int)


class CountingTarget:
    """Only what every target has (name, output_kind, predict), counting rows per record id and calls."""

    def __init__(self, target) -> None:
        self.target, self.name, self.output_kind = target, target.name, target.output_kind
        self.rows: Counter = Counter()
        self.calls = 0

    def predict(self, records):
        self.calls += 1
        self.rows.update(np.asarray(records.ids).tolist())
        return self.target.predict(records)


def _records(features: pd.DataFrame, labels) -> RecordSet:
    return RecordSet(np.array([f"r{i}" for i in range(len(features))]), features.reset_index(drop=True), np.asarray(labels), (0, 1))


@pytest.fixture(scope="module")
def linear_case():
    """60 records in [-2, 2]² plus four far corners (so clipping to the observed range never binds near the middle)."""
    rng = np.random.default_rng(7)
    inner = rng.uniform(-2, 2, size=(60, 2)) + 0.123  # non-integer values: no rounding
    corners = np.array([[-20.5, -20.5], [-20.5, 20.5], [20.5, -20.5], [20.5, 20.5]])
    features = pd.DataFrame(np.vstack([inner, corners]), columns=["x1", "x2"])
    labels = (features.to_numpy() @ W + B > 0).astype(int)
    scale = features.to_numpy().std(axis=0)
    analytic = np.abs(features.to_numpy() @ W + B) / np.linalg.norm(W * scale)
    return features, labels, analytic


# -- boundary distance --------------------------------------------------------------------------------------


def test_boundary_distance_matches_the_analytic_distance_to_a_linear_boundary(linear_case):
    features, labels, analytic = linear_case
    records = _records(features, labels)
    target = SklearnTarget(Linear(), name="linear", output_kind="labels")
    radius, steps = 6.0, 8
    request = query_request("boundary_distance", queries_per_record=64, max_radius=radius, directions=4, search_steps=steps)
    values, _ = compute_query_signals(target, records, [request], seed=0)
    estimate = values[request.key]
    inner = np.arange(60)
    assert analytic[inner].max() < radius / 2  # every inner record's boundary lies well inside the search radius
    tolerance = radius / 2**steps  # the lines' bisection bracket; the refinement along the fitted normal is finer
    # every reported distance is that of a queried point whose label changed, so it can never undercut the true one
    assert np.all(estimate[inner] >= analytic[inner] - 1e-9)
    assert np.all(estimate[inner] <= analytic[inner] + tolerance), np.max(estimate[inner] - analytic[inner])
    assert np.median(estimate[inner] - analytic[inner]) < 1e-4  # typically exact to the refinement's bracket


def test_boundary_distance_spends_exactly_its_budget_and_nothing_on_misclassified_records(linear_case):
    features, labels, analytic = linear_case
    labels = labels.copy()
    wrong = np.array([0, 5, 17])
    labels[wrong] = 1 - labels[wrong]  # the target misclassifies these three
    records = _records(features, labels)
    counting = CountingTarget(SklearnTarget(Linear(), name="linear", output_kind="labels"))
    budget, lines, steps = 40, 2, 8  # refinement gets 40 − 2·2 − 8·(lines that changed) ≤ 28 < MAX_REFINEMENT_STEPS: no cap
    assert budget - 2 * lines - steps < MAX_REFINEMENT_STEPS
    request = query_request("boundary_distance", queries_per_record=budget, max_radius=6.0, directions=lines, search_steps=steps)
    values, spent = compute_query_signals(counting, records, [request], seed=3)
    per_record = spent[request.key].queries
    counted = np.array([counting.rows[i] for i in records.ids])
    # the reported counts are the rows the target answered: the plain query of each record (no `correct` was given) + the search
    np.testing.assert_array_equal(spent["outputs"].queries, 1)
    np.testing.assert_array_equal(spent["outputs"].queries + per_record, counted)
    assert spent["outputs"].calls + spent[request.key].calls == counting.calls
    assert per_record.max() <= budget
    np.testing.assert_array_equal(per_record[wrong], 0)
    np.testing.assert_array_equal(values[request.key][wrong], 0.0)
    correct = np.setdiff1d(np.arange(len(records)), wrong)
    found = values[request.key][correct] < 6.0
    np.testing.assert_array_equal(per_record[correct][found], budget)  # a record whose label changed somewhere spends exactly Q
    np.testing.assert_array_equal(per_record[correct][~found], 2 * lines)  # only the ±R probes otherwise
    assert found.sum() >= 55


def test_boundary_distance_is_zero_for_misclassified_and_capped_at_the_radius():
    features = pd.DataFrame({"x1": [0.1, 0.2, 50.3, -50.4], "x2": [0.3, -0.1, 50.1, -50.2]})
    labels = (features.to_numpy() @ W + B > 0).astype(int)
    labels[1] = 1 - labels[1]
    target = SklearnTarget(Linear(), name="linear", output_kind="labels")
    request = query_request("boundary_distance", queries_per_record=49, max_radius=0.01, directions=6, search_steps=6)
    values, spent = compute_query_signals(target, _records(features, labels), [request], seed=0)
    np.testing.assert_array_equal(values[request.key], [0.01, 0.0, 0.01, 0.01])  # nothing changes within a radius of 0.01
    np.testing.assert_array_equal(spent[request.key].queries, [12, 0, 12, 12])  # 2 probes × 6 lines


# -- augmentation robustness -----------------------------------------------------------------------------------


class InsideRadius:
    """Answers label 1 within standardised radius ρ of ``centre``, 0 elsewhere; also 0 when ``colour`` is not red."""

    classes_ = np.array([0, 1])

    def __init__(self, centre, scale, radius) -> None:
        self.centre, self.scale, self.radius = np.asarray(centre), np.asarray(scale), radius

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        z = (features[["x1", "x2"]].to_numpy() - self.centre) / self.scale
        return ((np.linalg.norm(z, axis=1) <= self.radius) & (features["colour"] == "red").to_numpy()).astype(int)


@pytest.fixture(scope="module")
def radius_case():
    """Record 0 (label 1) sits at the centre; six far records fix the scale and keep clipping away."""
    features = pd.DataFrame({
        "x1": [0.25, -40.5, 40.5, -40.5, 40.5, 0.25, 0.25],
        "x2": [-0.75, -40.5, 40.5, 40.5, -40.5, 30.5, -30.5],
        "colour": ["red", "red", "red", "red", "red", "green", "blue"],
    })
    labels = np.array([1, 0, 0, 0, 0, 0, 0])
    scale = features[["x1", "x2"]].to_numpy().std(axis=0)
    return features, labels, scale


def test_augmentation_share_matches_the_chance_of_staying_inside_a_known_radius(radius_case):
    features, labels, scale = radius_case
    sigma, k = 0.5, 4000
    radius = sigma * math.sqrt(2 * math.log(2))  # P(‖σ·ε‖ ≤ ρ) = 1 − exp(−ρ²/2σ²) = 1/2 for ε ~ N(0, I₂)
    target = SklearnTarget(InsideRadius(features.loc[0, ["x1", "x2"]], scale, radius), name="ball", output_kind="labels")
    request = query_request("augmentation_robustness", k=k, sigma=sigma, flip_p=0.0)
    values, spent = compute_query_signals(target, _records(features, labels), [request], seed=0)
    expected = (1 + k * 0.5) / (k + 1)  # the unperturbed record is correct, half its copies are
    assert abs(values[request.key][0] - expected) < 4 * math.sqrt(0.25 / k)  # 4 binomial standard errors
    np.testing.assert_array_equal(spent[request.key].queries, k)  # exactly k copies of every record
    assert np.all(values[request.key][1:5] > 0.99)  # records 1.4 standard deviations out: a copy lands inside the ball (wrongly 1) rarely


def test_augmentation_share_matches_one_minus_the_flip_probability(radius_case):
    features, labels, scale = radius_case
    p, k = 0.25, 4000
    target = SklearnTarget(InsideRadius(features.loc[0, ["x1", "x2"]], scale, 1.0), name="colour", output_kind="labels")
    request = query_request("augmentation_robustness", k=k, sigma=0.0, flip_p=p)
    values, _ = compute_query_signals(target, _records(features, labels), [request], seed=1)
    expected = (1 + k * (1 - p)) / (k + 1)  # the label survives exactly when the colour was not flipped
    assert abs(values[request.key][0] - expected) < 4 * math.sqrt(p * (1 - p) / k)


def test_flips_draw_a_different_value_in_proportion_to_the_other_values_frequencies():
    space = FeatureSpace.fit(pd.DataFrame({"c": ["a"] * 5 + ["b"] * 3 + ["d"] * 2}))
    a = int(np.flatnonzero(space.categories[0] == "a")[0])
    codes = np.full((20000, 1), a)
    flipped = space.flip(codes, 1.0, np.random.default_rng(0))[:, 0]
    values = space.categories[0][flipped]
    assert not np.any(values == "a")  # p = 1: every cell changes
    assert abs(np.mean(values == "b") - 0.6) < 0.02  # b: 0.3 / (1 − 0.5); d: 0.2 / 0.5
    unchanged = space.flip(codes, 0.0, np.random.default_rng(0))
    np.testing.assert_array_equal(unchanged, codes)


def test_feature_space_keeps_whole_numbers_whole_and_values_in_range():
    features = pd.DataFrame({"age": np.array([20, 30, 40, 50]), "w": [0.5, 1.5, 2.5, 3.5], "c": list("aabb")})
    space = FeatureSpace.fit(features)
    assert space.numeric == ("age", "w") and space.categorical == ("c",)
    numeric, codes = space.encode(features)
    moved = space.move(numeric, np.array([[0.33, 0.1], [-9.0, 9.0], [0.0, 0.0], [9.0, -9.0]]))
    assert moved[0, 0] == 24.0  # 20 + 0.33 · 11.18, rounded
    np.testing.assert_array_equal(moved[1], [20.0, 3.5])  # clipped to the observed range
    frame = space.frame(moved, codes)
    assert list(frame.columns) == ["age", "w", "c"]
    assert frame.dtypes["age"] == features.dtypes["age"] and frame["c"].tolist() == features["c"].tolist()


class MissingStaysMissing:
    """The linear rule on x1, x2, a missing x1 read as 0."""

    classes_ = np.array([0, 1])

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        return Linear().predict(features.fillna({"x1": 0.0}))


def test_missing_values_never_move_and_the_signals_stay_finite():
    features = pd.DataFrame({"x1": [np.nan, 0.35, -1.25, 2.5, -3.5, 1.75], "x2": [0.15, -0.65, 1.05, -2.5, 3.5, 0.5],
                             "colour": ["red", None, "blue", "red", "green", "red"]})
    labels = (features.fillna({"x1": 0.0})[["x1", "x2"]].to_numpy() @ W + B > 0).astype(int)
    records = _records(features, labels)

    class Checking(SklearnTarget):
        def predict(self, copies):
            own = copies.ids == "r0"
            assert copies.features.loc[own, "x1"].isna().all()  # never filled in or moved
            return super().predict(copies)

    target = Checking(MissingStaysMissing(), name="linear", output_kind="labels")
    requests = [query_request("augmentation_robustness", k=30, sigma=0.5, flip_p=0.5), query_request("boundary_distance")]
    values, _ = compute_query_signals(target, records, requests, seed=0)
    for request in requests:
        assert np.all(np.isfinite(values[request.key])), request.key
    assert values[requests[1].key][0] > 0  # r0 still moves along x2


# -- determinism, parameters, capabilities ---------------------------------------------------------------------


@pytest.mark.parametrize("name, params", [
    ("augmentation_robustness", {"k": 50, "sigma": 0.7, "flip_p": 0.3}),
    ("boundary_distance", {"queries_per_record": 64, "max_radius": 4.0, "directions": 4, "search_steps": 6}),
])
def test_query_signals_are_deterministic_under_the_seed(name, params, radius_case):
    features, labels, scale = radius_case
    features = pd.concat([features] * 3, ignore_index=True)
    labels = np.tile(labels, 3)
    target = SklearnTarget(InsideRadius(features.loc[0, ["x1", "x2"]], scale, 0.3), name="ball", output_kind="labels")
    request = query_request(name, **params)
    records = _records(features, labels)
    first = compute_query_signals(target, records, [request], seed=11)[0][request.key]
    again = compute_query_signals(target, records, [request], seed=11)[0][request.key]
    other = compute_query_signals(target, records, [request], seed=12)[0][request.key]
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


@pytest.mark.parametrize("spec, message", [
    ({"name": "label_only_augmentation", "k": 0}, r"k \(copies per record\) must be a whole number ≥ 1, got 0"),
    ({"name": "label_only_augmentation", "k": 2.5}, "k .* whole number"),
    ({"name": "label_only_augmentation", "k": True}, "k .* whole number"),
    ({"name": "label_only_augmentation", "sigma": -0.1}, r"sigma .* finite number in \[0, ∞\), got -0.1"),
    ({"name": "label_only_augmentation", "sigma": float("nan")}, "sigma .* finite number"),
    ({"name": "label_only_augmentation", "flip_p": 1.5}, r"flip_p .* in \[0, 1\], got 1.5"),
    ({"name": "label_only_augmentation", "sigma": 0.0, "flip_p": 0.0}, "sigma and flip_p are both 0, so every copy would equal its record"),
    ({"name": "label_only_boundary", "queries_per_record": 20}, "queries_per_record = 20 is too small .* give at least 49"),
    ({"name": "label_only_boundary", "max_radius": 0}, r"max_radius .* \(0, ∞\), got 0"),
    ({"name": "label_only_boundary", "directions": 0}, "directions must be a whole number ≥ 1"),
    ({"name": "label_only_boundary", "search_steps": -1}, "search_steps must be a whole number ≥ 1"),
])
def test_bad_parameters_are_config_errors_naming_the_attack_and_parameter(spec, message):
    with pytest.raises(ConfigError, match=f"attack '{spec['name']}': {message}"):
        build_attack(spec)


def test_bad_parameters_are_refused_when_the_config_is_read():
    raw = {"data": {"path": "d.csv", "label": "y", "membership": {"column": "m"}},
           "targets": [{"name": "t", "type": "sklearn", "path": "m.skops"}],
           "attacks": [{"name": "label_only_boundary", "queries_per_record": 10}]}
    with pytest.raises(ConfigError, match="queries_per_record = 10 is too small"):
        privaudit.config.parse_config(raw)


def test_precomputed_outputs_and_featureless_data_are_refused_before_any_query(radius_case):
    features, labels, _ = radius_case
    records = _records(features, labels)
    table = pd.DataFrame({"record_id": records.ids, "label": ["0"] * len(records)})
    precomputed = PrecomputedTarget(table, name="file", output_kind="labels")
    request = query_request("augmentation_robustness", k=2, sigma=0.1, flip_p=0.1)
    with pytest.raises(CapabilityError, match="precomputed outputs"):
        compute_query_signals(OutputDefenceTarget(precomputed, OutputDefence(labels_only=True)), records, [request])
    bare = RecordSet(records.ids, pd.DataFrame(index=range(len(records))), records.labels, records.classes)
    target = SklearnTarget(Linear(), name="linear", output_kind="labels")
    with pytest.raises(CapabilityError, match="no feature columns"):
        compute_query_signals(target, bare, [request])
    categorical_only = _records(features[["colour"]], labels)
    boundary = query_request("boundary_distance")
    with pytest.raises(CapabilityError, match="no numeric feature column that varies"):
        compute_query_signals(target, categorical_only, [boundary])
    numeric_noise_only = query_request("augmentation_robustness", k=2, sigma=0.5, flip_p=0.0)
    with pytest.raises(CapabilityError, match="would leave every copy equal to its record"):
        compute_query_signals(target, categorical_only, [numeric_noise_only])


def test_attacks_read_only_their_signal_and_defaults_follow_the_features():
    attack = build_attack({"name": "label_only_boundary", "queries_per_record": 80})
    key = attack.required_signals[0]
    assert key == "boundary_distance:directions=6,max_radius=4,queries_per_record=80,search_steps=6"
    assert attack.query_signal.key == key  # the audit computes exactly what the attack reads
    np.testing.assert_array_equal(attack.score({key: np.array([0.0, 2.5])}, np.array([0, 1])), [0.0, 2.5])
    mixed = pd.DataFrame({"x": [0.5, 1.5, 2.5], "c": ["a", "b", "a"]})
    assert [a.name for a in label_only_attacks_for(mixed)] == ["label_only_augmentation", "label_only_boundary"]
    numeric_only = label_only_attacks_for(mixed[["x"]])
    assert numeric_only[0].get_params() == {"k": 10, "sigma": 0.1, "flip_p": 0.0} and numeric_only[1].name == "label_only_boundary"
    assert [a.name for a in label_only_attacks_for(mixed[["c"]])] == ["label_only_augmentation"]
    assert [a.display_name for a in default_attacks("labels", True, features=None)] == ["threshold[correctness]"]
    assert [a.display_name for a in default_attacks("labels", True, features=mixed)][0] == "threshold[correctness]"
    assert len(default_attacks("labels", True, features=mixed)) == 3
    assert not any(isinstance(a, (LabelOnlyAugmentationAttack, LabelOnlyBoundaryAttack)) for a in default_attacks("probabilities", True))


# -- end to end ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def overfit_labels_only():
    """A random forest that memorises 300 members (20 % flipped labels) behind a labels-only defence; 300 non-members."""
    from sklearn.compose import make_column_transformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    frame = privaudit.make_synthetic_tabular(600, n_numeric=10, label_noise=0.2, seed=0)
    frame["split"] = ["member"] * 300 + ["nonmember"] * 300
    data = privaudit.audit_data_from_frame(frame, label="label", id_column="record_id", membership_column="split")
    members = frame[frame.split == "member"]
    model = make_pipeline(make_column_transformer((OneHotEncoder(), ["colour"]), remainder="passthrough"),
                          RandomForestClassifier(n_estimators=100, random_state=0))
    model.fit(members.drop(columns=["record_id", "label", "split"]), members.label)
    forest = SklearnTarget(model, name="forest")
    return data, forest, OutputDefenceTarget(forest, OutputDefence(labels_only=True))


def test_label_only_audit_beats_chance_while_loss_is_refused_and_the_report_says_masking_failed(overfit_labels_only, tmp_path):
    data, forest, labels_only = overfit_labels_only
    with pytest.raises(CapabilityError, match="gives only labels; use the 'correctness' attack or the label-only attacks"):
        privaudit.audit(data, [labels_only], ["loss"], n_bootstrap=100)
    counting = CountingTarget(labels_only)
    result = privaudit.audit(data, [counting], n_bootstrap=200, fprs=[0.1, 0.01])
    by_name = {r.attack.split("[")[0]: r for r in result.results}
    assert set(by_name) == {"threshold", "label_only_augmentation", "label_only_boundary"}
    best_label_only = max((by_name["label_only_augmentation"], by_name["label_only_boundary"]), key=lambda r: r.metrics.auc)
    assert best_label_only.metrics.auc_ci[0] > 0.5  # measured: boundary 0.618 (0.571–0.664 with 1,000 replicates)
    assert best_label_only.metrics.auc > by_name["threshold"].metrics.auc  # more than the gap attack alone (0.587)
    loss_auc = privaudit.audit(data, [forest], ["loss"], n_bootstrap=100).best().metrics.auc
    assert best_label_only.metrics.auc < loss_auc  # the forest's full confidence leaks more (measured 0.892)

    queries = result.targets[0].queries
    assert queries.total == sum(counting.rows.values())  # every row the target answered is counted
    assert queries.calls == counting.calls
    assert queries.records == 600
    assert queries.by_source["outputs"]["total"] == 600
    augmentation = next(v for k, v in queries.by_source.items() if k.startswith("augmentation_robustness:"))
    boundary = next(v for k, v in queries.by_source.items() if k.startswith("boundary_distance:"))
    assert augmentation["total"] == 600 * 10 and augmentation["max_per_record"] == 10
    assert 0 < boundary["per_record"] <= boundary["max_per_record"] <= 64

    from privaudit.report import write_report

    files = write_report(result, tmp_path)
    document = json.loads((tmp_path / "report.json").read_text())
    target = document["targets"][0]
    assert target["output_kind"] == "labels"
    assert target["queries"]["total"] == queries.total and target["queries"]["per_record"] == pytest.approx(queries.total / 600)
    assert "masking the confidence scores did not stop membership inference" in document["verdicts"]["forest"]
    html = (tmp_path / "report.html").read_text()
    assert f"queries spent: {queries.total:,} total" in html
    assert files

    from rich.console import Console

    from privaudit.report.terminal import print_summary

    console = Console(record=True, width=200)
    print_summary(result, console=console)
    text = " ".join(console.export_text().split())
    assert f"Queries spent: {queries.total:,} total" in text
    assert "did not stop membership inference" in text


def test_record_checks_refuse_query_attacks_clearly():
    from privaudit.record_check import check_attack

    with pytest.raises(CapabilityError, match="runs in audits only"):
        check_attack("label_only_augmentation", None, [])
