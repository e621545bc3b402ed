"""The flip-distance query signal and the label-only flip attacks (raw and calibrated with reference models).

* on a target whose label changes after a known number of replaced values the signal equals that number;
* the budget is never exceeded (hypothesis over budgets, column counts and thresholds), and every row is counted;
* the reference replay asks the *same* copies: replayed on the target itself, it gives the target's signal;
* the calibrated score rarely ties at the top on an overfit model (it is meant to make TPR at low FPR measurable);
* determinism under the seed; one-line refusals.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import privaudit
from privaudit import OutputDefence, OutputDefenceTarget, SklearnTarget
from privaudit.attacks import build_attack
from privaudit.attacks.label_flip import SIGMA_FLOOR, LabelOnlyFlipAttack, LabelOnlyFlipCalibratedAttack, calibrated_flip_scores
from privaudit.data import RecordSet
from privaudit.exceptions import CapabilityError, ConfigError, DataError
from privaudit.query_signals import FeatureSpace, LabelOracle, compute_query_signals, query_request, request_rng
from privaudit.query_signals.flips import flip_replay


class ThresholdFlipTarget:
    """Labels only: keeps record i's label until at least ``needed[i]`` of its categorical values differ from its own.

    Each record carries its index in the numeric column ``key`` (never perturbed by flips), so the target
    knows the original; its flip distance is therefore ``needed[i]`` in every order (C + 1 when needed > C).
    """

    output_kind = "labels"
    name = "threshold_flip"

    def __init__(self, frame: pd.DataFrame, labels: np.ndarray, needed: np.ndarray, columns) -> None:
        self.original = frame[list(columns)].to_numpy(dtype=object)
        self.labels, self.needed, self.columns = np.asarray(labels), np.asarray(needed), list(columns)
        self.rows: Counter = Counter()
        self.calls = 0

    def predict(self, records) -> np.ndarray:
        self.calls += 1
        self.rows.update(np.asarray(records.ids).tolist())
        key = records.features["key"].to_numpy().astype(int)
        differ = (records.features[self.columns].to_numpy(dtype=object) != self.original[key]).sum(axis=1)
        return np.where(differ >= self.needed[key], 1 - self.labels[key], self.labels[key])


def threshold_case(n: int, columns: int, needed: np.ndarray, seed: int = 0):
    rng = np.random.default_rng(seed)
    names = [f"c{j}" for j in range(columns)]
    frame = pd.DataFrame({name: rng.choice(["a", "b", "c"], size=n, p=[0.5, 0.3, 0.2]) for name in names})
    frame.insert(0, "key", np.arange(n))
    labels = rng.integers(0, 2, n)
    records = RecordSet(np.array([f"r{i}" for i in range(n)]), frame, labels, (0, 1))
    return records, ThresholdFlipTarget(frame, labels, needed, names)


def test_flip_distance_equals_the_known_number_of_flips_and_orders_the_records_by_it():
    needed = np.array([1, 2, 3, 4, 5, 6, 7, 9, 20, 3])
    records, target = threshold_case(needed.size, 6, needed)
    correct = np.ones(needed.size, dtype=bool)
    correct[-1] = False  # the target "misclassifies" the last record: 0, and no query
    request = query_request("flip_distance", queries_per_record=30)  # 5 orders of 6 flips
    values, spent = compute_query_signals(target, records, [request], correct=correct, seed=0)
    expected = np.minimum(needed, 7).astype(float)  # never changed within the 6 columns: C + 1 = 7
    expected[-1] = 0.0
    np.testing.assert_array_equal(values[request.key], expected)
    np.testing.assert_array_equal(spent[request.key].queries, np.where(correct, 5 * np.minimum(needed, 6), 0))


@settings(max_examples=25, deadline=None)
@given(budget=st.integers(1, 90), columns=st.integers(1, 7), seed=st.integers(0, 2**16),
       needed=st.lists(st.integers(1, 9), min_size=1, max_size=12))
def test_the_budget_is_never_exceeded_and_every_row_is_counted(budget, columns, seed, needed):
    needed = np.asarray(needed)
    records, target = threshold_case(needed.size, columns, needed, seed=seed)
    request = query_request("flip_distance", queries_per_record=budget)
    flippable = int((records.features.drop(columns="key").nunique() > 1).sum())  # a column with one value cannot flip
    run = lambda: compute_query_signals(target, records, [request], correct=np.ones(needed.size, bool), seed=seed)  # noqa: E731
    if flippable == 0 or budget < flippable:
        message = "no categorical column with more than one value" if flippable == 0 else f"queries_per_record = {budget} is too small.*at least {flippable}"
        with pytest.raises(CapabilityError, match=message):
            run()
        assert target.calls == 0  # refused before any query
        return
    values, spent = run()
    queries = spent[request.key].queries
    assert queries.max() <= budget
    assert [target.rows[f"r{i}"] for i in range(needed.size)] == queries.tolist()
    np.testing.assert_array_equal(queries, budget // flippable * np.minimum(needed, flippable))
    np.testing.assert_array_equal(values[request.key], np.where(needed <= flippable, needed, flippable + 1))


@pytest.fixture(scope="module")
def overfit_categorical():
    """A 1-nearest-neighbour-like forest memorising 400 members of categorical records with 25 % noisy labels; 400 non-members."""
    from sklearn.compose import make_column_transformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    rng = np.random.default_rng(3)
    n, names = 2400, [f"c{j}" for j in range(8)]
    frame = pd.DataFrame({name: rng.choice(list("abcde"), size=n) for name in names})
    score = sum((frame[name] == "a").to_numpy() * w for name, w in zip(names, rng.normal(size=8)))
    label = (score + rng.normal(scale=0.3, size=n) > 0).astype(int)
    noisy = rng.random(n) < 0.25
    label[noisy] = 1 - label[noisy]
    frame["x"] = rng.normal(size=n)
    frame["label"] = label
    frame.insert(0, "record_id", [f"rec-{i}" for i in range(n)])
    frame["split"] = ["member"] * 400 + ["nonmember"] * 400 + ["population"] * (n - 800)
    data = privaudit.audit_data_from_frame(frame, label="label", id_column="record_id", membership_column="split")
    members = frame[frame.split == "member"]
    estimator = make_pipeline(make_column_transformer((OneHotEncoder(handle_unknown="ignore"), names), remainder="passthrough"),
                              RandomForestClassifier(n_estimators=30, random_state=0))
    from sklearn.base import clone

    model = clone(estimator).fit(members.drop(columns=["record_id", "label", "split"]), members.label)
    target = OutputDefenceTarget(SklearnTarget(model, name="forest"), OutputDefence(labels_only=True))
    return data, target, estimator


def test_calibrated_flip_attack_separates_members_with_few_ties_at_the_top(overfit_categorical, tmp_path):
    from privaudit.reference.plan import ReferencePlan
    from privaudit.reference.recipes import SklearnRecipe

    data, target, estimator = overfit_categorical
    plan = ReferencePlan(SklearnRecipe(estimator, trusted_types=["sklearn.tree._tree.Tree"]), n_models=4, mode="offline",
                         train_size=400, store=tmp_path, backend="sequential")
    attacks = [{"name": "label_only_flip_calibrated", "queries_per_record": 40, "reference_orders": 2},
               {"name": "label_only_flip", "queries_per_record": 40}]
    result = privaudit.audit(data, [target], attacks, reference=plan, n_bootstrap=100, fprs=[0.1, 0.01], seed=0)
    by_name = {r.attack.split("[")[0]: r for r in result.results}
    calibrated, raw = by_name["label_only_flip_calibrated"], by_name["label_only_flip"]
    assert calibrated.metrics.auc_ci[0] > 0.5
    top = calibrated.scores == calibrated.scores.max()
    assert top.mean() < 0.01
    assert raw.metrics.auc_ci[0] > 0.5
    queries = result.targets[0].queries
    flip = next(v for k, v in queries.by_source.items() if k.startswith("flip_distance:"))
    assert flip["max_per_record"] <= 40  # the two attacks share one target signal; reference rows are not target queries
    assert result.reference["forest"]["replayed_rows"] == 800 * (1 + 2 * 8)

    import json

    from privaudit.report import write_report

    write_report(result, tmp_path / "report")  # the report renders the new attacks and counts only the target's queries
    document = json.loads((tmp_path / "report" / "report.json").read_text())
    assert document["targets"][0]["queries"]["total"] == queries.total
    assert {r["attack"].split("[")[0] for r in document["results"]} == {"label_only_flip_calibrated", "label_only_flip"}


def test_the_reference_replay_asks_the_same_copies_as_the_target():
    needed = np.array([1, 3, 5, 8, 2, 4])
    records, target = threshold_case(needed.size, 5, needed, seed=4)
    request = query_request("flip_distance", queries_per_record=20)
    values, _ = compute_query_signals(target, records, [request], correct=np.ones(needed.size, bool), seed=11)
    space = FeatureSpace.fit(records.features)
    numeric, codes = space.encode(records.features)
    copies = flip_replay(space, numeric, codes, request_rng(11, request.key), 99, queries_per_record=20)  # capped at all 4 orders
    oracle = LabelOracle(target, records, space)
    hits = oracle.ask(copies.owner, copies.numeric, copies.codes) == records.labels[copies.owner]
    np.testing.assert_array_equal(copies.values(hits[:, None])[:, 0], values[request.key])


def test_flip_signals_are_deterministic_under_the_seed():
    needed = np.random.default_rng(0).integers(1, 6, 30)
    records, target = threshold_case(30, 6, needed)
    # a target whose answer depends on which columns changed, not only how many: the orders matter
    target.needed = np.where(records.features["c0"].to_numpy() == "a", needed, needed + 1)
    request = query_request("flip_distance", queries_per_record=24)
    run = lambda seed: compute_query_signals(target, records, [request], correct=np.ones(30, bool), seed=seed)[0][request.key]  # noqa: E731
    np.testing.assert_array_equal(run(5), run(5))
    codes = FeatureSpace.fit(records.features).encode(records.features)[1]
    from privaudit.query_signals.flips import flip_plan

    space = FeatureSpace.fit(records.features)
    assert not np.array_equal(flip_plan(space, codes, request_rng(5, request.key), 4).rank, flip_plan(space, codes, request_rng(6, request.key), 4).rank)


def test_calibration_subtracts_the_mean_of_out_models_only():
    target = np.array([9.0, 5.0, 2.0])
    reference = np.array([[9.0, 1.0], [3.0, 5.0], [2.0, 2.0]])
    in_mask = np.array([[False, True], [False, False], [False, False]])
    np.testing.assert_allclose(calibrated_flip_scores(target, reference, in_mask, variance="global"), [0.0, 1.0, 0.0])
    # per example: record 1's OUT values 3, 5 have σ = 1, so (5 − 4) / √(1 + σ₀²); the others have σ = 0
    np.testing.assert_allclose(calibrated_flip_scores(target, reference, in_mask), [0.0, 1.0 / np.sqrt(1 + SIGMA_FLOOR**2), 0.0])
    with pytest.raises(DataError, match="trained every reference model"):
        calibrated_flip_scores(target, reference, np.ones((3, 2), bool))


@pytest.mark.parametrize("spec, message", [
    ({"name": "label_only_flip", "queries_per_record": 0}, "queries_per_record must be a whole number ≥ 1"),
    ({"name": "label_only_flip_calibrated", "reference_orders": 0}, "reference_orders must be a whole number ≥ 1"),
    ({"name": "label_only_flip_calibrated", "mode": "both"}, "mode must be 'offline' or 'online'"),
    ({"name": "label_only_flip_calibrated", "variance": "local"}, "variance must be 'per_example' or 'global'"),
])
def test_bad_parameters_are_one_line_config_errors(spec, message):
    with pytest.raises(ConfigError, match=message):
        _ = build_attack(spec).needs


def test_data_without_categorical_columns_is_refused_before_any_query():
    records = RecordSet(np.array(["a", "b"]), pd.DataFrame({"x": [0.0, 1.0]}), np.array([0, 1]), (0, 1))
    target = ThresholdFlipTarget(pd.DataFrame({"x": [0.0, 1.0]}), np.array([0, 1]), np.array([1, 1]), [])
    with pytest.raises(CapabilityError, match="no categorical column with more than one value; use label_only_boundary"):
        compute_query_signals(target, records, [LabelOnlyFlipAttack().query_signal], correct=np.ones(2, bool))
    assert target.calls == 0
    assert LabelOnlyFlipCalibratedAttack().required_signals == (LabelOnlyFlipAttack().signal,)


def test_label_only_defaults_add_the_calibrated_flip_attack_only_with_reference_models_and_categories():
    from privaudit.pipeline import default_attacks

    mixed = pd.DataFrame({"x": [0.5, 1.5, 2.5], "c": ["a", "b", "a"]})
    with_reference = default_attacks("labels", True, "online", features=mixed, n_reference_models=4)
    assert [a.name for a in with_reference][-1] == "label_only_flip_calibrated" and with_reference[-1].mode == "online"
    assert "label_only_flip_calibrated" not in [a.name for a in default_attacks("labels", True, None, features=mixed)]
    assert "label_only_flip_calibrated" not in [a.name for a in default_attacks("labels", True, "offline", features=mixed[["x"]])]
    assert "label_only_flip_calibrated" not in [a.name for a in default_attacks("labels", True, "offline", features=None)]
