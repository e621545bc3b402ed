"""Output defences on any target: hand-computed outputs, refusals, config, and what they do to an audit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier

import privaudit
from privaudit.config import parse_config
from privaudit.data import AuditData, RecordSet
from privaudit.exceptions import CapabilityError, ConfigError
from privaudit.targets import OutputDefence, OutputDefenceTarget, PrecomputedTarget, SklearnTarget, load_target
from privaudit.targets.output_defence import defend

CLASSES = ("a", "b", "c")


def _records(n: int) -> RecordSet:
    return RecordSet(np.array([f"r{i}" for i in range(n)]), pd.DataFrame(index=range(n)), np.arange(n) % 2, CLASSES)


def _fixed(outputs, kind: str = "probabilities") -> PrecomputedTarget:
    """A target answering ``outputs`` (one row per record r0, r1, ...)."""
    outputs = np.asarray(outputs, dtype=float)
    if kind == "labels":
        table = pd.DataFrame({"record_id": [f"r{i}" for i in range(len(outputs))], "label": [CLASSES[int(v)] for v in outputs]})
    else:
        table = pd.DataFrame(outputs, columns=list(CLASSES))
        table.insert(0, "record_id", [f"r{i}" for i in range(len(outputs))])
    return PrecomputedTarget(table, name="fixed", output_kind=kind)


def _defended(outputs, kind="probabilities", **defence):
    target = OutputDefenceTarget(_fixed(outputs, kind), OutputDefence(**defence))
    return target.predict(_records(len(outputs))), target.output_kind


# -- each step, by hand ------------------------------------------------------------------------------------------


def test_temperature_on_logits_stays_logits_divided_by_t():
    outputs, kind = _defended([[2.0, 0.0, -4.0]], "logits", temperature=2.0)
    assert kind == "logits"
    np.testing.assert_allclose(outputs, [[1.0, 0.0, -2.0]])


def test_temperature_on_probabilities_acts_on_log_probabilities():
    # p^(1/T) renormalised: sqrt(0.64) : sqrt(0.16) : sqrt(0.2) = 0.8 : 0.4 : sqrt(0.2)
    outputs, kind = _defended([[0.64, 0.16, 0.2]], temperature=2.0)
    root = np.sqrt([0.64, 0.16, 0.2])
    assert kind == "probabilities"
    np.testing.assert_allclose(outputs, [root / root.sum()])
    sharpened, _ = _defended([[0.5, 0.25, 0.25]], temperature=0.5)  # p² renormalised
    np.testing.assert_allclose(sharpened, [[2 / 3, 1 / 6, 1 / 6]])


def test_top_k_keeps_the_largest_renormalised_and_breaks_ties_by_class_order():
    outputs, kind = _defended([[0.2, 0.5, 0.3], [0.4, 0.2, 0.4]], top_k=2)
    np.testing.assert_allclose(outputs, [[0.0, 0.625, 0.375], [0.5, 0.0, 0.5]])
    top1, _ = _defended([[0.4, 0.2, 0.4]], top_k=1)
    np.testing.assert_allclose(top1, [[1.0, 0.0, 0.0]])
    assert kind == "probabilities"


def test_top_k_on_logits_works_on_their_softmax():
    outputs, kind = _defended([[0.0, np.log(3.0), -50.0]], "logits", top_k=2)  # softmax ≈ [0.25, 0.75, ~0]
    assert kind == "probabilities"
    np.testing.assert_allclose(outputs, [[0.25, 0.75, 0.0]], atol=1e-12)


def test_round_then_renormalise_and_all_zero_rows_become_uniform():
    outputs, _ = _defended([[0.26, 0.34, 0.40], [0.33, 0.33, 0.34], [0.04, 0.01, 0.95]], round=1)
    # [0.3, 0.3, 0.4]; [0.3, 0.3, 0.3] → thirds; [0.0, 0.0, 1.0] (0.95 rounds half to even: 1.0)
    np.testing.assert_allclose(outputs, [[0.3, 0.3, 0.4], [1 / 3, 1 / 3, 1 / 3], [0.0, 0.0, 1.0]])
    zeros, _ = _defended([[0.4, 0.3, 0.3]], round=0)
    np.testing.assert_allclose(zeros, [[1 / 3, 1 / 3, 1 / 3]])
    untouched, _ = _defended([[0.125, 0.375, 0.5]], round=3)
    np.testing.assert_allclose(untouched, [[0.125, 0.375, 0.5]])


def test_steps_apply_in_order_temperature_top_k_round():
    # T = 2 on [0.64, 0.16, 0.2] → [0.8, 0.4, 0.447] / 1.647; top 2 → [0.8, 0, 0.447] / 1.247 = [0.6415, 0, 0.3585]; round 2 → [0.64, 0, 0.36]
    outputs, _ = _defended([[0.64, 0.16, 0.2]], temperature=2.0, top_k=2, round=2)
    np.testing.assert_allclose(outputs, [[0.64, 0.0, 0.36]])


def test_labels_only_answers_the_argmax_and_advertises_labels():
    outputs, kind = _defended([[0.1, 0.7, 0.2], [0.5, 0.2, 0.3]], labels_only=True)
    assert kind == "labels" and outputs.tolist() == [1, 0]
    logits, kind = _defended([[3.0, -1.0, 2.9]], "logits", labels_only=True)
    assert kind == "labels" and logits.tolist() == [0]
    labels, kind = _defended([2, 1], "labels", labels_only=True)  # a label-only target stays one
    assert kind == "labels" and labels.tolist() == [2, 1]


# -- refusals --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "defence, message",
    [
        ({"top_k": 0}, "top_k must be an integer ≥ 1"),
        ({"top_k": 1.5}, "top_k"),
        ({"round": -1}, "round must be a whole number of decimals from 0 to 15"),
        ({"round": 2.5}, "round"),
        ({"temperature": 0.0}, "temperature must be a finite number > 0"),
        ({"temperature": float("nan")}, "temperature"),
        ({"labels_only": True, "round": 1}, "labels_only answers the predicted class alone, so round would have no effect"),
        ({}, "sets nothing"),
    ],
)
def test_bad_defences_are_config_errors(defence, message):
    with pytest.raises(ConfigError, match=message):
        OutputDefence(**defence)


def test_top_k_beyond_the_classes_and_probability_steps_on_labels_are_refused():
    with pytest.raises(ConfigError, match="top_k = 4 but the target answers 3 classes"):
        _defended([[0.2, 0.5, 0.3]], top_k=4)
    with pytest.raises(CapabilityError, match="answers labels only, so top_k, round and temperature do not apply"):
        OutputDefenceTarget(_fixed([1], "labels"), OutputDefence(round=1))
    with pytest.raises(ConfigError, match="unknown output_defence key.*decimals"):
        defend(_fixed([[0.2, 0.5, 0.3]]), {"decimals": 2})


def test_config_validates_output_defence_and_names_the_key():
    base = {"data": {"path": "x.csv", "label": "y", "membership": {"column": "s"}}, "targets": [{"name": "t", "type": "precomputed", "path": "o.csv"}]}

    def parse(defence):
        raw = {**base, "targets": [{**base["targets"][0], "output_defence": defence}]}
        return parse_config(raw, "audit.yaml")

    assert parse({"top_k": 1, "round": 2, "temperature": 2.0}).targets[0].output_defence.top_k == 1
    for defence, message in [
        ({"top_k": 0}, r"targets\.0\.output_defence\.top_k: Input should be greater than or equal to 1"),
        ({"temperature": -1}, r"targets\.0\.output_defence\.temperature: Input should be greater than 0"),
        ({"labels_only": True, "top_k": 1}, r"targets\.0\.output_defence: .*labels_only answers the predicted class alone"),
        ({}, r"targets\.0\.output_defence: output_defence sets nothing"),
        ({"decimals": 1}, r"unknown key 'targets\.0\.output_defence\.decimals'; allowed keys here: top_k, round, temperature, labels_only"),
    ]:
        with pytest.raises(ConfigError, match=message):
            parse(defence)


def test_load_target_applies_the_config_s_defence(tmp_path):
    pd.DataFrame({"record_id": ["r0", "r1"], "a": [0.26, 0.1], "b": [0.34, 0.8], "c": [0.4, 0.1]}).to_csv(tmp_path / "o.csv", index=False)
    spec = {"type": "precomputed", "path": "o.csv", "output_defence": {"top_k": None, "round": 1, "temperature": None, "labels_only": False}}
    target = load_target(spec, tmp_path, "vendor")
    assert isinstance(target, OutputDefenceTarget) and target.name == "vendor"
    np.testing.assert_allclose(target.predict(_records(2)), [[0.3, 0.3, 0.4], [0.1, 0.8, 0.1]])
    plain = load_target({"type": "precomputed", "path": "o.csv", "output_defence": None}, tmp_path, "vendor")
    assert isinstance(plain, PrecomputedTarget)


# -- what defences do to an audit -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def overfit_forest():
    """A random forest that memorises 300 members with 20 % flipped labels; 300 non-members."""
    frame = privaudit.make_synthetic_tabular(600, n_numeric=10, label_noise=0.2, seed=0).drop(columns=["colour"])
    frame["split"] = ["member"] * 300 + ["nonmember"] * 300
    data = privaudit.audit_data_from_frame(frame, label="label", id_column="record_id", membership_column="split")
    members = frame[frame.split == "member"]
    model = RandomForestClassifier(n_estimators=100, random_state=0).fit(members.drop(columns=["record_id", "label", "split"]), members.label)
    return data, SklearnTarget(model, name="forest")


def _loss_metrics(data: AuditData, target):
    return privaudit.audit(data, [target], ["loss"], n_bootstrap=100, fprs=[0.1, 0.01]).best().metrics


def test_rounding_to_one_decimal_lowers_the_loss_attack(overfit_forest):
    data, forest = overfit_forest
    plain = _loss_metrics(data, forest)
    rounded = _loss_metrics(data, OutputDefenceTarget(forest, OutputDefence(round=1)))
    assert plain.auc > 0.75  # the forest leaks
    assert rounded.auc < plain.auc - 0.01  # measured: 0.847 → 0.831
    assert rounded.operating_points[0.1].tpr < 0.6 * plain.operating_points[0.1].tpr  # measured: 52 % → 23 % at 10 % FPR
    coarser = _loss_metrics(data, OutputDefenceTarget(forest, OutputDefence(round=0)))
    assert coarser.auc < rounded.auc


def test_labels_only_refuses_loss_attacks_clearly_and_audits_with_correctness(overfit_forest):
    data, forest = overfit_forest
    labels_only = OutputDefenceTarget(forest, OutputDefence(labels_only=True))
    with pytest.raises(CapabilityError, match="attack 'threshold\\[loss\\]' needs probabilities, but target 'forest' gives only labels; use the 'correctness' attack"):
        privaudit.audit(data, [labels_only], ["loss"], n_bootstrap=100)
    result = privaudit.audit(data, [labels_only], n_bootstrap=100)
    # by default: the gap attack and the label-only query attacks (tests/test_label_only.py), which need only labels
    assert [r.attack.split("[")[0] for r in result.results] == ["threshold", "label_only_augmentation", "label_only_boundary"]
    assert result.results[0].attack == "threshold[correctness]"
    assert result.targets[0].output_kind == "labels"
    assert 0.5 < result.best().metrics.auc < _loss_metrics(data, forest).auc  # the gap attack still sees the train/test accuracy gap


def test_reference_models_answer_through_the_target_s_defence(tmp_path):
    """LiRA/RMIA compare the target with reference models: those must be post-processed like the target."""
    from sklearn.linear_model import LogisticRegression

    from privaudit.reference import SklearnRecipe
    from privaudit.reference.plan import ReferencePlan, reference_signals

    frame = privaudit.make_synthetic_tabular(90, n_classes=3, seed=1).drop(columns=["colour"])
    frame["split"] = ["member"] * 30 + ["nonmember"] * 30 + ["population"] * 30
    data = privaudit.audit_data_from_frame(frame, label="label", id_column="record_id", membership_column="split")
    saturated = float(np.log(np.finfo(np.float64).tiny))  # the loss signal's stand-in for −log 0 is −saturated ≈ 708
    losses = {}
    for name, defence in (("plain", None), ("top_k", OutputDefence(top_k=1))):
        plan = ReferencePlan(SklearnRecipe(LogisticRegression(max_iter=500)), n_models=2, mode="offline", store=tmp_path / name, backend="sequential", output_defence=defence)
        signals, _, _ = reference_signals(plan, data, ["loss"], target_population_signals=None, seed=0)
        losses[name] = signals.signals["loss"]
    assert losses["plain"].shape == losses["top_k"].shape == (60, 2)
    assert len(np.unique(losses["plain"])) > 50  # every record its own loss
    assert set(np.unique(losses["top_k"]).tolist()) <= {0.0, -saturated}  # one-hot answers: loss 0 or saturated
    assert set(np.unique(losses["top_k"]).tolist()) == {0.0, -saturated}


def test_plans_from_config_carry_the_defence(tmp_path):
    from sklearn.linear_model import LogisticRegression
    from skops.io import dump

    from privaudit.reference.plan import plans_from_config

    dump(LogisticRegression(), tmp_path / "model.skops")
    raw = {
        "data": {"path": "x.csv", "label": "y", "membership": {"column": "s"}},
        "targets": [{"name": "t", "type": "sklearn", "path": "model.skops", "reference": {"models": 2}, "output_defence": {"round": 2, "temperature": 3.0}}],
    }
    plan = plans_from_config(parse_config(raw, "audit.yaml"), tmp_path)["t"]
    assert plan.output_defence == OutputDefence(round=2, temperature=3.0)
