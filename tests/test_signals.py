"""Signals against hand-computed values, extreme outputs, refusals and score direction."""

from __future__ import annotations

import math
import warnings
from types import SimpleNamespace

import numpy as np
import pytest

from privaudit.exceptions import CapabilityError, DataError
from privaudit.signals import (
    SIGNALS,
    compute_signals,
    correctness,
    cross_entropy_loss,
    entropy,
    logit_scaled_confidence,
    modified_entropy,
    signals_from_outputs,
    to_log_probabilities,
    true_class_confidence,
)

PROBABILITY_SIGNALS = [n for n in SIGNALS.names() if SIGNALS.get(n).needs == "probabilities"]
ln = math.log


def _probs(rows):
    return to_log_probabilities(np.array(rows, dtype=float), "probabilities")


def _no_warnings(function, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return function(*args)


# --- hand-computed values -----------------------------------------------------

# (probabilities, label, loss, confidence, logit confidence, entropy, modified entropy)
HAND_CASES = [
    ([0.8, 0.2], 0, -ln(0.8), 0.8, ln(4.0), -(0.8 * ln(0.8) + 0.2 * ln(0.2)), -0.2 * ln(0.8) - 0.2 * ln(0.8)),
    ([0.8, 0.2], 1, -ln(0.2), 0.2, -ln(4.0), -(0.8 * ln(0.8) + 0.2 * ln(0.2)), -0.8 * ln(0.2) - 0.8 * ln(0.2)),
    (
        [0.5, 0.3, 0.2], 1, -ln(0.3), 0.3, ln(0.3 / 0.7),
        -(0.5 * ln(0.5) + 0.3 * ln(0.3) + 0.2 * ln(0.2)),
        -0.7 * ln(0.3) - (0.5 * ln(0.5) + 0.2 * ln(0.8)),
    ),
    (
        [0.1, 0.6, 0.3], 0, -ln(0.1), 0.1, ln(0.1 / 0.9),
        -(0.1 * ln(0.1) + 0.6 * ln(0.6) + 0.3 * ln(0.3)),
        -0.9 * ln(0.1) - (0.6 * ln(0.4) + 0.3 * ln(0.7)),
    ),
]


@pytest.mark.parametrize("probs, label, loss, conf, logit, ent, mentr", HAND_CASES)
def test_hand_computed_values(probs, label, loss, conf, logit, ent, mentr):
    lp, y = _probs([probs]), np.array([label])
    assert cross_entropy_loss(lp, y)[0] == pytest.approx(loss, rel=1e-12)
    assert true_class_confidence(lp, y)[0] == pytest.approx(conf, rel=1e-12)
    assert logit_scaled_confidence(lp, y)[0] == pytest.approx(logit, rel=1e-12)
    assert entropy(lp, y)[0] == pytest.approx(ent, rel=1e-12)
    assert modified_entropy(lp, y)[0] == pytest.approx(mentr, rel=1e-12)


def test_hand_values_as_decimals():
    # Independent of the formulas above: numbers worked out on paper (6 digits).
    lp, y = _probs([[0.5, 0.3, 0.2]]), np.array([1])
    assert cross_entropy_loss(lp, y)[0] == pytest.approx(1.203973, abs=1e-6)
    assert logit_scaled_confidence(lp, y)[0] == pytest.approx(-0.847298, abs=1e-6)
    assert entropy(lp, y)[0] == pytest.approx(1.029653, abs=1e-6)
    assert modified_entropy(lp, y)[0] == pytest.approx(1.233983, abs=1e-6)


def test_batch_of_mixed_rows_matches_row_by_row():
    rows = np.array([c[0] for c in HAND_CASES[2:]] * 2)
    labels = np.array([1, 0, 2, 1])
    lp = _probs(rows)
    for function in (cross_entropy_loss, true_class_confidence, logit_scaled_confidence, entropy, modified_entropy):
        together = function(lp, labels)
        assert together.shape == (4,) and together.dtype == np.float64
        one_by_one = [function(lp[i : i + 1], labels[i : i + 1])[0] for i in range(4)]
        np.testing.assert_array_equal(together, one_by_one)


def test_correctness_values():
    out = correctness(np.array([0, 2, 1, 1]), np.array([0, 1, 1, 2]))
    np.testing.assert_array_equal(out, [1.0, 0.0, 1.0, 0.0])
    assert out.dtype == np.float64


def test_correctness_from_probabilities_uses_argmax():
    probs = np.array([[0.7, 0.2, 0.1], [0.2, 0.3, 0.5], [0.1, 0.6, 0.3]])
    result = signals_from_outputs(probs, "probabilities", np.array([0, 1, 1]), ["correctness"], source="t")
    np.testing.assert_array_equal(result["correctness"], [1.0, 0.0, 1.0])


# --- extreme outputs ------------------------------------------------------------


def test_logit_confidence_is_the_exact_logit_margin_for_large_margins():
    lp = _no_warnings(to_log_probabilities, np.array([[50.0, -50.0], [800.0, 0.0], [0.0, 800.0]]), "logits")
    phi_0 = _no_warnings(logit_scaled_confidence, lp, np.array([0, 0, 0]))
    phi_1 = _no_warnings(logit_scaled_confidence, lp, np.array([1, 1, 1]))
    np.testing.assert_allclose(phi_0, [100.0, 800.0, -800.0], rtol=1e-12)
    np.testing.assert_allclose(phi_1, [-100.0, -800.0, 800.0], rtol=1e-12)
    # margins beyond exp's range still order correctly (no clipping into ties)
    lp = to_log_probabilities(np.array([[800.0, 0.0], [900.0, 0.0], [1000.0, 0.0]]), "logits")
    phi = logit_scaled_confidence(lp, np.array([0, 0, 0]))
    assert np.all(np.isfinite(phi)) and phi[0] < phi[1] < phi[2]


def test_logit_confidence_three_classes_large_margin():
    # φ = z_y − logsumexp(z_others) exactly for logits
    logits = np.array([[300.0, 0.0, 0.0]])
    phi = logit_scaled_confidence(to_log_probabilities(logits, "logits"), np.array([0]))
    assert phi[0] == pytest.approx(300.0 - ln(2.0), rel=1e-14)


def test_loss_of_a_very_confident_correct_prediction_is_tiny_not_zero():
    lp = to_log_probabilities(np.array([[50.0, -50.0]]), "logits")
    loss = cross_entropy_loss(lp, np.array([0]))
    assert loss[0] == pytest.approx(math.exp(-100.0), rel=1e-9)
    assert cross_entropy_loss(lp, np.array([1]))[0] == pytest.approx(100.0, rel=1e-12)


def test_loss_of_a_hopeless_prediction_is_large_and_finite():
    lp = to_log_probabilities(np.array([[800.0, 0.0]]), "logits")
    loss = _no_warnings(cross_entropy_loss, lp, np.array([1]))
    assert np.isfinite(loss[0]) and loss[0] >= 700.0


@pytest.mark.parametrize("name", PROBABILITY_SIGNALS + ["correctness"])
def test_exact_zero_one_probabilities_give_finite_values_without_warnings(name):
    probs = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    labels = np.array([0, 0, 1, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        values = signals_from_outputs(probs, "probabilities", labels, [name], source="t")[name]
    assert values.shape == (4,)
    assert np.all(np.isfinite(values)), values


def test_exact_zero_one_probabilities_values():
    lp = _no_warnings(to_log_probabilities, np.array([[1.0, 0.0], [0.0, 1.0]]), "probabilities")
    right, wrong = np.array([0, 1]), np.array([1, 0])
    np.testing.assert_array_equal(cross_entropy_loss(lp, right), [0.0, 0.0])
    np.testing.assert_array_equal(true_class_confidence(lp, right), [1.0, 1.0])
    np.testing.assert_array_equal(true_class_confidence(lp, wrong), [0.0, 0.0])
    np.testing.assert_array_equal(entropy(lp, right), [0.0, 0.0])
    np.testing.assert_array_equal(modified_entropy(lp, right), [0.0, 0.0])
    for values in (cross_entropy_loss(lp, wrong), modified_entropy(lp, wrong)):
        assert np.all(values >= 700.0) and np.all(np.isfinite(values))
    phi_right, phi_wrong = logit_scaled_confidence(lp, right), logit_scaled_confidence(lp, wrong)
    assert np.all(phi_right >= 700.0) and np.all(phi_wrong <= -700.0)
    assert np.all(np.isfinite(phi_right)) and np.all(np.isfinite(phi_wrong))


def test_exact_probabilities_rank_at_least_as_extreme_as_near_ones():
    # [1, 0] is more confident than [1, 1e-300] or [1, 5e-324]: never ranked below them
    lp = to_log_probabilities(np.array([[1.0, 0.0], [1.0, 1e-300], [1.0, 5e-324], [1 - 1e-9, 1e-9]]), "probabilities")
    y = np.zeros(4, dtype=int)
    phi = logit_scaled_confidence(lp, y)
    assert phi[0] >= phi[2] >= phi[1] > phi[3]
    loss = cross_entropy_loss(lp, np.ones(4, dtype=int))
    assert loss[0] >= loss[2] >= loss[1] > loss[3]


def test_modified_entropy_grows_for_confident_wrong_predictions():
    lp = _probs([[0.6, 0.4], [0.9, 0.1], [0.99, 0.01], [1.0, 0.0]])
    mentr = modified_entropy(lp, np.array([1, 1, 1, 1]))
    assert np.all(np.diff(mentr) > 0)
    ent = entropy(lp)
    assert np.all(np.diff(ent) < 0)  # plain entropy cannot tell a wrong prediction from a right one


# --- logits and probabilities agree ------------------------------------------------

LOGIT_ROWS = np.array([[2.0, 1.0, -1.0], [0.0, 0.0, 0.0], [-3.0, 5.0, 0.5], [10.0, -10.0, 0.0], [1.0, 1.0, 4.0]])


@pytest.mark.parametrize("name", PROBABILITY_SIGNALS + ["correctness"])
def test_logits_and_their_probabilities_give_the_same_signals(name):
    labels = np.array([0, 1, 2, 1, 2])
    shifted = LOGIT_ROWS - LOGIT_ROWS.max(axis=1, keepdims=True)
    probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    from_logits = signals_from_outputs(LOGIT_ROWS, "logits", labels, [name], source="t")[name]
    from_probs = signals_from_outputs(probs, "probabilities", labels, [name], source="t")[name]
    np.testing.assert_allclose(from_logits, from_probs, rtol=1e-9, atol=1e-9)


def test_logits_are_shift_invariant():
    lp1 = to_log_probabilities(LOGIT_ROWS, "logits")
    lp2 = to_log_probabilities(LOGIT_ROWS + 123.0, "logits")
    np.testing.assert_allclose(lp1, lp2, atol=1e-12)
    np.testing.assert_allclose(np.exp(lp1).sum(axis=1), 1.0, rtol=1e-12)


def test_probabilities_within_tolerance_are_renormalised():
    lp = to_log_probabilities(np.array([[0.6, 0.3999]]), "probabilities")
    np.testing.assert_allclose(np.exp(lp).sum(axis=1), 1.0, rtol=1e-12)


# --- refusals --------------------------------------------------------------------


@pytest.mark.parametrize(
    "values, kind, match",
    [
        ([[0.5, np.nan]], "probabilities", "NaN"),
        ([[np.nan, 1.0]], "logits", "NaN"),
        ([[np.inf, 1.0]], "logits", "infinite"),
        ([[1.2, -0.2]], "probabilities", r"\[0, 1\]"),
        ([[0.6, 0.6]], "probabilities", "do not sum to 1"),
        ([[0.5, 0.5], [0.2, 0.2]], "probabilities", "do not sum to 1"),
        ([0.5, 0.5], "probabilities", "2-D"),
        ([0.5, 0.5], "logits", "2-D"),
        ([[1.0], [1.0]], "probabilities", "at least 2 classes"),
    ],
)
def test_to_log_probabilities_refuses_bad_outputs(values, kind, match):
    with pytest.raises(DataError, match=match):
        to_log_probabilities(np.array(values, dtype=float), kind, source="my-target")


def test_refusal_names_the_source():
    with pytest.raises(DataError, match="my-target"):
        to_log_probabilities(np.array([[0.6, 0.6]]), "probabilities", source="my-target")


def test_labels_kind_carries_no_probabilities():
    with pytest.raises(CapabilityError):
        to_log_probabilities(np.array([[0.5, 0.5]]), "labels")


# entropy ignores labels by design, so it has nothing to refuse
LABELLED_SIGNALS = [n for n in PROBABILITY_SIGNALS if n != "entropy"]


@pytest.mark.parametrize("labels", [[0, 2], [-1, 0], [0, 0, 1], [[0], [1]]])
@pytest.mark.parametrize("name", LABELLED_SIGNALS)
def test_labels_out_of_range_or_misshapen_are_refused(name, labels):
    lp = _probs([[0.5, 0.5], [0.3, 0.7]])
    with pytest.raises(DataError):
        SIGNALS.get(name).function(lp, np.array(labels))


def test_correctness_refuses_shape_mismatch():
    with pytest.raises(DataError):
        correctness(np.array([0, 1]), np.array([0, 1, 1]))


@pytest.mark.parametrize("name", PROBABILITY_SIGNALS)
def test_label_only_outputs_refused_for_probability_signals(name):
    with pytest.raises(CapabilityError, match=name):
        signals_from_outputs(np.array([0, 1]), "labels", np.array([0, 1]), [name], source="label-api")


def test_label_only_outputs_work_for_correctness():
    out = signals_from_outputs(np.array([0, 1, 1]), "labels", np.array([0, 0, 1]), ["correctness"], source="t")
    np.testing.assert_array_equal(out["correctness"], [1.0, 0.0, 1.0])


def test_compute_signals_queries_the_target_once_and_refuses_label_only():
    calls = []

    class LabelTarget:
        name = "label-api"
        output_kind = "labels"

        def predict(self, records):
            calls.append(len(records.labels))
            return np.array([0, 1])

    records = SimpleNamespace(labels=np.array([0, 0]))
    out = compute_signals(LabelTarget(), records, ["correctness"])
    np.testing.assert_array_equal(out["correctness"], [1.0, 0.0])
    assert calls == [2]
    with pytest.raises(CapabilityError, match="label-api"):
        compute_signals(LabelTarget(), records, ["loss"])


# --- score direction -------------------------------------------------------------

EXPECTED_DIRECTION = {"loss": -1, "confidence": +1, "logit_confidence": +1, "entropy": -1, "modified_entropy": -1, "correctness": +1}


@pytest.mark.parametrize("name", SIGNALS.names())
def test_member_direction(name):
    signal = SIGNALS.get(name)
    assert signal.member_direction in (-1, +1)
    if name in EXPECTED_DIRECTION:
        assert signal.member_direction == EXPECTED_DIRECTION[name]
    # a memorised-looking record (confident, right) vs a non-member-looking one (unsure, wrong)
    probs = np.array([[0.97, 0.02, 0.01], [0.35, 0.45, 0.20]])
    values = signals_from_outputs(probs, "probabilities", np.array([0, 0]), [name], source="t")[name]
    oriented = signal.member_direction * values
    assert oriented[0] > oriented[1]


def test_saturated_probabilities_keep_their_order_in_the_loss():
    # what a served model answers for its most confident records: p_y = 1.0 in float64, the rest tiny but not zero
    from privaudit.signals import cross_entropy_loss, to_log_probabilities

    log_p = to_log_probabilities(np.array([[1.0, 1e-20], [1.0, 3e-17], [1.0, 0.0], [0.2, 0.8]]), "probabilities")
    loss = cross_entropy_loss(log_p, np.array([0, 0, 0, 1]))
    np.testing.assert_allclose(loss[:2], [1e-20, 3e-17], rtol=1e-12)  # −log(1 − ε) = ε, not a tie at 0
    assert loss[2] == 0.0 and loss[3] == pytest.approx(-np.log(0.8), rel=1e-15)
