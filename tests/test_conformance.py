"""One shared contract for every registered signal and every registered attack.

Like scikit-learn's ``parametrize_with_checks``: the cases are generated from
the registries (``SIGNALS``, ``ATTACKS``) when the tests are collected, so a
newly registered signal or attack is checked without editing this file.

The synthetic case has known leakage. Each record has a difficulty (the
true-class logit a model gives it without training on it); a model that
trained on the record adds ``BOOST`` to that logit. Every signal is computed
from the resulting logits with :func:`privaudit.signals.signals_from_outputs`,
for the target and for ``N_REFERENCE`` reference models that each trained on
a random half of the records (``in_mask``), so members must score higher.

Attacks come in two kinds, told apart by what they declare, not by class:

* signal attacks (``fit(signals, labels)`` on population records, then
  ``score(signals, labels)``, ``predict(..., fpr=)``), each also given
  ``features=`` (the records' feature table) when ``needs.features`` (QMIA);
* reference attacks (``needs.reference``): ``score(signals, labels, reference)``
  with a :class:`~privaudit.attacks.reference.ReferenceSignals`.

An attack with a ``signal`` parameter is run with every registered signal:
it either satisfies the whole contract with it, or refuses it up front with a
:class:`ConfigError` / :class:`CapabilityError` naming the signal.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, replace
from typing import Mapping

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.base import clone

from privaudit.attacks import ATTACKS, build_attack
from privaudit.exceptions import CapabilityError, ConfigError, DataError, NotFittedError
from privaudit.metrics import roc_auc
from privaudit.signals import SIGNALS, signals_from_outputs, stable_log_softmax

N_CLASSES = 3
N_MEMBERS, N_NONMEMBERS, N_POPULATION = 120, 120, 1000  # QMIA fits on ≥ 1,000 population records at α = 1 %
N_REFERENCE = 8
BOOST = 3.0  # logit a model adds to the true class of a record it trained on
SEED = 20240501

#: An attack or signal must separate members from non-members at least this well on the synthetic case.
MIN_AUC = 0.6


# --- the synthetic case -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    signals: dict  # target's signals on audited records, name → (n,)
    labels: np.ndarray  # (n,)
    is_member: np.ndarray  # (n,) bool
    population_signals: dict  # target's signals on population records, name → (n_z,)
    population_labels: np.ndarray  # (n_z,)
    reference: object  # ReferenceSignals
    features: object = None  # DataFrame (n rows): a noisy copy of each record's difficulty and a category
    population_features: object = None  # DataFrame (n_z rows)


def _query_signal_keys() -> list[str]:
    """Keys of the query signals (label-only attacks) the registered attacks read with their default parameters."""
    return [q.key for a in (ATTACKS.get(n)() for n in ATTACKS.names()) for q in a.needs.query_signals]


def _signals_from_logits(logits: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
    """Every registered signal, plus a stand-in for each query signal: the true-class logit margin clipped at 0
    (0 for a misclassified record, larger the farther the logits are from a label change), as a boundary
    distance or perturbation robustness would be for this synthetic model."""
    signals = signals_from_outputs(logits, "logits", labels, SIGNALS.names(), source="synthetic")
    rows = np.arange(labels.size)
    others = logits.copy()
    others[rows, labels] = -np.inf
    margin = np.maximum(logits[rows, labels] - others.max(axis=1), 0.0)
    for key in _query_signal_keys():
        signals[key] = margin.copy()
    return signals


def _logits(difficulty: np.ndarray, trained: np.ndarray, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    n = labels.size
    logits = rng.normal(0.0, 0.5, size=(n, N_CLASSES))
    logits[np.arange(n), labels] = difficulty + BOOST * trained + rng.normal(0.0, 0.5, size=n)
    return logits


def _half_mask(n: int, rng: np.random.Generator) -> np.ndarray:
    """Each record IN exactly half of the reference models (so every record has ≥ 2 IN and ≥ 2 OUT models)."""
    mask = np.zeros((n, N_REFERENCE), dtype=bool)
    for row in mask:
        row[rng.permutation(N_REFERENCE)[: N_REFERENCE // 2]] = True
    return mask


def _reference_signals(difficulty, mask, labels, rng) -> dict[str, np.ndarray]:
    """Every registered signal per reference model, plus each replayed query signal (the same stand-in, per model)."""
    per_model = [_signals_from_logits(_logits(difficulty, mask[:, k], labels, rng), labels) for k in range(N_REFERENCE)]
    stacked = {name: np.stack([m[name] for m in per_model], axis=1) for name in SIGNALS.names()}
    replays = [r for a in (ATTACKS.get(n)() for n in ATTACKS.names()) for r in a.needs.reference_query_signals]
    stacked.update({r.key: np.stack([m[r.request.key] for m in per_model], axis=1) for r in replays})
    return stacked


def make_case(seed: int = SEED) -> Case:
    from privaudit.attacks.reference import ReferenceSignals

    rng = np.random.default_rng(seed)
    n = N_MEMBERS + N_NONMEMBERS
    is_member = np.r_[np.ones(N_MEMBERS, bool), np.zeros(N_NONMEMBERS, bool)]
    labels = rng.integers(0, N_CLASSES, n)
    difficulty = rng.normal(0.5, 1.5, n)
    z_labels = rng.integers(0, N_CLASSES, N_POPULATION)
    z_difficulty = rng.normal(0.5, 1.5, N_POPULATION)

    signals = _signals_from_logits(_logits(difficulty, is_member, labels, rng), labels)
    z_signals = _signals_from_logits(_logits(z_difficulty, np.zeros(N_POPULATION, bool), z_labels, rng), z_labels)
    in_mask = _half_mask(n, rng)
    z_mask = _half_mask(N_POPULATION, rng)
    reference = ReferenceSignals(
        signals=_reference_signals(difficulty, in_mask, labels, rng),
        in_mask=in_mask,
        population_target=z_signals,
        population_signals=_reference_signals(z_difficulty, z_mask, z_labels, rng),
        population_in_mask=z_mask,
        population_labels=z_labels,
        model_ids=tuple(f"ref-{k}" for k in range(N_REFERENCE)),
    )
    return Case(signals, labels, is_member, z_signals, z_labels, reference, _features(difficulty, rng), _features(z_difficulty, rng))


def _features(difficulty: np.ndarray, rng: np.random.Generator):
    """What a record's features tell about its score as a non-member: a noisy difficulty and an unrelated category."""
    import pandas as pd

    return pd.DataFrame({"difficulty": difficulty + rng.normal(0.0, 0.3, difficulty.size),
                         "colour": np.array(["red", "green", "blue"])[rng.integers(0, 3, difficulty.size)]})


@pytest.fixture(scope="module")
def case() -> Case:
    return make_case()


@pytest.fixture(scope="module", autouse=True)
def _one_thread_per_native_pool():
    """Attacks that fit models (OpenMP in HistGradientBoosting) run ~10× slower on a small, busy machine when their
    thread pools oversubscribe the cores; one thread keeps this module fast and does not change any score."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


def _copy(mapping: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: np.array(v, copy=True) for k, v in mapping.items()}


def _with_reference_signals(case: Case, signals: dict) -> Case:
    return replace(case, reference=replace(case.reference, signals=signals))


# --- signals -------------------------------------------------------------------------------------------

SIGNAL_NAMES = SIGNALS.names()


def _call_signal(name: str, log_probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    signal = SIGNALS.get(name)
    if signal.needs == "labels":
        return signal.function(np.argmax(log_probs, axis=1), labels)
    return signal.function(log_probs, labels)


def test_signal_registry_is_not_empty():
    assert {"loss", "confidence", "correctness"} <= set(SIGNAL_NAMES)


@pytest.mark.parametrize("name", SIGNAL_NAMES)
def test_signal_declares_direction_and_needs(name):
    signal = SIGNALS.get(name)
    assert signal.name == name
    assert signal.member_direction in (+1, -1)
    assert signal.needs in ("probabilities", "labels")
    assert callable(signal.function)
    assert isinstance(signal.description, str) and signal.description.strip()


@pytest.mark.parametrize("name", SIGNAL_NAMES)
def test_signal_is_oriented_towards_members(name, case):
    """member_direction × signal is higher for members on a case with known leakage."""
    oriented = SIGNALS.get(name).member_direction * case.signals[name]
    assert roc_auc(oriented, case.is_member) > MIN_AUC


@pytest.mark.parametrize("name", SIGNAL_NAMES)
def test_signal_shape_dtype_and_determinism(name):
    rng = np.random.default_rng(1)
    log_probs = stable_log_softmax(rng.normal(size=(37, 4)) * 3)
    labels = rng.integers(0, 4, 37)
    first = _call_signal(name, log_probs, labels)
    second = _call_signal(name, log_probs.copy(), labels.copy())
    assert first.shape == (37,)
    assert first.dtype == np.float64
    assert np.all(np.isfinite(first))
    np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize("name", SIGNAL_NAMES)
def test_signal_finite_on_extreme_outputs(name):
    """Exact 0/1 probabilities and huge logits are where membership shows; no NaN or inf there."""
    probabilities = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.5, 0.5, 0.0]])
    logits = np.array([[800.0, 0.0, -800.0], [-800.0, 0.0, 800.0], [0.0, 0.0, 0.0]])
    labels = np.array([0, 0, 2])
    for kind, values in (("probabilities", probabilities), ("logits", logits)):
        with np.errstate(divide="raise", invalid="raise", over="raise", under="ignore"):
            out = signals_from_outputs(values, kind, labels, [name], source="extreme")[name]
        assert out.shape == (3,)
        assert np.all(np.isfinite(out)), (kind, out)


@pytest.mark.parametrize("name", SIGNAL_NAMES)
def test_signal_refuses_wrong_length_labels(name):
    log_probs = stable_log_softmax(np.random.default_rng(2).normal(size=(5, 3)))
    with pytest.raises(DataError):
        _call_signal(name, log_probs, np.array([0, 1, 2, 0]))


@pytest.mark.parametrize("name", [n for n in SIGNAL_NAMES if SIGNALS.get(n).needs == "probabilities"])
def test_signal_refuses_out_of_range_labels(name):
    log_probs = stable_log_softmax(np.random.default_rng(3).normal(size=(3, 3)))
    labels = np.array([0, 1, 3])
    with pytest.raises(DataError, match="class indices"):
        SIGNALS.get(name).function(log_probs, labels)


@settings(max_examples=40, deadline=None)
@given(logits=arrays(np.float64, (6, 3), elements=st.floats(-1e3, 1e3)), labels=arrays(np.int64, 6, elements=st.integers(0, 2)))
def test_every_signal_finite_for_any_finite_logits(logits, labels):
    out = signals_from_outputs(logits, "logits", labels, SIGNAL_NAMES, source="hypothesis")
    for name, values in out.items():
        assert values.shape == (6,), name
        assert np.all(np.isfinite(values)), (name, logits, labels, values)


# --- attacks: the cases ------------------------------------------------------------------------------

ATTACK_NAMES = ATTACKS.names()


def _takes_signal(name: str) -> bool:
    return "signal" in ATTACKS.get(name)().get_params()


def _attack_cases() -> list:
    cases = []
    for name in ATTACK_NAMES:
        if _takes_signal(name):
            cases += [pytest.param(name, signal, id=f"{name}-{signal}") for signal in SIGNAL_NAMES]
        else:
            cases.append(pytest.param(name, None, id=f"{name}-default"))
    return cases


ATTACK_CASES = _attack_cases()


def _build(name: str, signal: str | None):
    return build_attack({"name": name} if signal is None else {"name": name, "signal": signal})


def _is_reference(attack) -> bool:
    return attack.needs.reference


def _fit(attack, case: Case, *, signals=None, labels=None):
    signals = case.population_signals if signals is None else signals
    labels = case.population_labels if labels is None else labels
    if _is_reference(attack):
        return attack.fit(case.signals, case.labels, case.reference)
    if attack.needs.features:
        return attack.fit(signals, labels, features=case.population_features)
    return attack.fit(signals, labels)


def _score(attack, case: Case, *, signals=None, labels=None, reference=None):
    signals = case.signals if signals is None else signals
    labels = case.labels if labels is None else labels
    if _is_reference(attack):
        return attack.score(signals, labels, case.reference if reference is None else reference)
    if attack.needs.features:
        return attack.score(signals, labels, features=case.features)
    return attack.score(signals, labels)


def _predict(attack, case: Case, signals, labels, *, fpr: float, population: bool = False):
    if attack.needs.features:
        return attack.predict(signals, labels, fpr=fpr, features=case.population_features if population else case.features)
    return attack.predict(signals, labels, fpr=fpr)


def _fit_score(attack, case: Case) -> np.ndarray:
    fitted = _fit(attack, case)
    assert fitted is attack, "fit must return self"
    return _score(attack, case)


def _accepted(name: str, signal: str | None, case: Case):
    """Build and run the attack. Returns (attack, scores), or (None, error) if it refused the signal.

    A refusal must be a ConfigError or CapabilityError that names the signal; the
    attack's default configuration must never be refused.
    """
    attack = _build(name, signal)
    try:
        return attack, _fit_score(attack, case)
    except (ConfigError, CapabilityError) as exc:
        default = ATTACKS.get(name)().get_params().get("signal")
        assert signal is not None and signal != default, f"attack '{name}' refused its default configuration: {exc}"
        assert f"'{signal}'" in str(exc) or signal in str(exc), f"refusal does not name the signal '{signal}': {exc}"
        return None, exc


@pytest.fixture(scope="module")
def runs(case):
    """(attack name, signal) → (fitted attack or None, scores or refusal); each pair is run once per module."""
    cache: dict = {}

    def get(name, signal):
        if (name, signal) not in cache:
            cache[(name, signal)] = _accepted(name, signal, case)
        return cache[(name, signal)]

    return get


def _run_or_check_refusal(runs, name, signal):
    attack, result = runs(name, signal)
    if attack is None:
        assert isinstance(result, (ConfigError, CapabilityError))
    return attack, result


# --- attacks: registry and construction ---------------------------------------------------------------


def test_attack_registry_holds_the_core_attacks():
    assert {"threshold", "classwise_threshold"} <= set(ATTACK_NAMES)


@pytest.mark.parametrize("name,signal", ATTACK_CASES)
def test_attack_declares_its_needs_and_scores_from_them_alone(name, signal, case, runs):
    """``attack.needs`` is the frozen record the pipeline reads; scoring through the pipeline's one dispatch with
    only what it declares (signals, population, reference models, query signals) gives the attack's own scores."""
    import dataclasses

    from privaudit.attacks import AttackNeeds
    from privaudit.attacks.reference import ReferenceSignals
    from privaudit.pipeline import Collected, score_attack

    attack, expected = _run_or_check_refusal(runs, name, signal)
    if attack is None:
        return
    needs = _build(name, signal).needs
    assert isinstance(needs, AttackNeeds) and needs == attack.needs
    with pytest.raises(dataclasses.FrozenInstanceError):
        needs.population = True
    assert needs.population == attack.needs_population and not needs.texts
    assert set(needs.signals) <= set(SIGNAL_NAMES), needs.signals
    query_keys = [q.key for q in needs.query_signals]
    assert set(attack.required_signals) <= set(needs.signals) | set(query_keys)
    if needs.reference:
        assert needs.reference_mode in ("online", "offline") and needs.reference_mode == attack.mode
    else:
        assert needs.reference_mode is None and not needs.population_z
    declared = list(needs.signals) + query_keys
    reference = None
    if needs.reference:  # the pipeline gives reference attacks the population records z whenever the data has them
        r, names = case.reference, needs.signals
        replayed = [q.key for q in needs.reference_query_signals]  # query signals the pipeline also asks the reference models
        reference = ReferenceSignals({k: r.signals[k] for k in [*names, *replayed]}, r.in_mask, {k: r.population_target[k] for k in names},
                                     {k: r.population_signals[k] for k in names}, r.population_in_mask, r.population_labels)
    collected = Collected(
        signals={k: case.signals[k] for k in declared},
        population_signals={k: case.population_signals[k] for k in declared} if needs.population else None,
        reference=reference,
        features=case.features if needs.features else None,
        population_features=case.population_features if needs.features else None,
    )
    scored = score_attack(_build(name, signal), collected, case.labels, case.population_labels)
    np.testing.assert_allclose(scored.scores, expected)


@pytest.mark.parametrize("name", ATTACK_NAMES)
def test_attack_declares_its_interface(name):
    cls = ATTACKS.get(name)
    attack = build_attack({"name": name})
    assert type(attack) is cls
    assert cls.name == name, "the class's name must be its registry name"
    assert isinstance(attack.display_name, str) and attack.display_name.strip()
    assert isinstance(attack.needs_population, bool)
    required = tuple(attack.required_signals)
    assert required and set(required) <= set(SIGNAL_NAMES) | set(_query_signal_keys()), required
    for method in ("fit", "score", "get_params", "set_params"):
        assert callable(getattr(attack, method)), method
    if not _is_reference(attack):
        assert callable(attack.predict)


@pytest.mark.parametrize("name", ATTACK_NAMES)
def test_attack_init_takes_keyword_only_parameters_and_stores_them_unchanged(name):
    """scikit-learn contract: __init__ stores keyword-only parameters and nothing else."""
    cls = ATTACKS.get(name)
    parameters = [p for p in inspect.signature(cls.__init__).parameters.values() if p.name != "self"]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in parameters), parameters
    assert all(p.default is not inspect.Parameter.empty for p in parameters), "every parameter needs a default"
    attack = cls()
    params = attack.get_params()
    assert set(params) == {p.name for p in parameters}
    assert set(vars(attack)) == set(params), "__init__ must not set attributes other than its parameters"
    for p in parameters:
        assert params[p.name] is p.default or params[p.name] == p.default


@pytest.mark.parametrize("name", ATTACK_NAMES)
def test_attack_unknown_parameter_is_a_config_error(name):
    with pytest.raises(ConfigError, match="no_such_parameter"):
        build_attack({"name": name, "no_such_parameter": 1})


@pytest.mark.parametrize("name, signal", ATTACK_CASES)
def test_attack_clone_and_set_params(name, signal):
    attack = _build(name, signal)
    params = attack.get_params()
    copy = clone(attack)
    assert type(copy) is type(attack) and copy is not attack
    assert copy.get_params() == params
    assert copy.set_params(**params) is copy
    assert copy.get_params() == params
    assert repr(attack).startswith(type(attack).__name__)


# --- attacks: the contract on the synthetic case -----------------------------------------------------


@pytest.mark.parametrize("name, signal", ATTACK_CASES)
def test_attack_scores_members_higher(name, signal, runs, case):
    attack, scores = _run_or_check_refusal(runs, name, signal)
    if attack is not None:
        assert roc_auc(scores, case.is_member) > MIN_AUC, attack.display_name


@pytest.mark.parametrize("name, signal", ATTACK_CASES)
def test_attack_output_shape_and_finite(name, signal, runs, case):
    attack, scores = _run_or_check_refusal(runs, name, signal)
    if attack is not None:
        assert isinstance(scores, np.ndarray)
        assert scores.shape == (case.labels.size,)
        assert np.issubdtype(scores.dtype, np.floating)
        assert np.all(np.isfinite(scores))


@pytest.mark.parametrize("name, signal", ATTACK_CASES)
def test_attack_fitted_attributes_end_in_underscore(name, signal, case):
    attack = _build(name, signal)
    before = set(vars(attack))
    try:
        _fit_score(attack, case)
    except (ConfigError, CapabilityError):
        assert signal is not None  # a refused signal (checked in _accepted); nothing fitted to inspect
        return
    added = set(vars(attack)) - before
    assert all(a.endswith("_") and not a.startswith("__") for a in added), added
    assert attack.get_params() == _build(name, signal).get_params(), "fit/score must not change parameters"


@pytest.mark.parametrize("name, signal", ATTACK_CASES)
def test_attack_is_deterministic(name, signal, runs, case):
    """Same inputs → identical scores: from a fresh instance, a clone, and the same instance scored again."""
    attack, scores = _run_or_check_refusal(runs, name, signal)
    if attack is None:
        return
    again = _score(attack, case)
    fresh = _fit_score(_build(name, signal), case)
    cloned = _fit_score(clone(attack), case)
    np.testing.assert_array_equal(again, scores)
    np.testing.assert_array_equal(fresh, scores)
    np.testing.assert_array_equal(cloned, scores)


@pytest.mark.parametrize("name, signal", ATTACK_CASES)
def test_attack_does_not_modify_its_inputs(name, signal, runs, case):
    attack, _ = _run_or_check_refusal(runs, name, signal)
    if attack is None:
        return
    signals, labels = _copy(case.signals), case.labels.copy()
    reference_signals = _copy(case.reference.signals)
    _score(attack, case, signals=signals, labels=labels)
    for key in case.signals:
        np.testing.assert_array_equal(signals[key], case.signals[key])
    for key in case.reference.signals:  # reference models have no query signals (those come from querying the target)
        np.testing.assert_array_equal(reference_signals[key], case.reference.signals[key])
    np.testing.assert_array_equal(labels, case.labels)


# --- attacks: refusal of bad input -------------------------------------------------------------------


@pytest.mark.parametrize("name, signal", ATTACK_CASES)
def test_attack_refuses_wrong_length_labels(name, signal, runs, case):
    attack, _ = _run_or_check_refusal(runs, name, signal)
    if attack is None:
        return
    with pytest.raises(DataError):
        _score(attack, case, labels=case.labels[:-1])
    if not _is_reference(attack):
        with pytest.raises(DataError):
            _build(name, signal).fit(case.population_signals, case.population_labels[:-1])


@pytest.mark.parametrize("name, signal", ATTACK_CASES)
def test_attack_refuses_nan_signals(name, signal, runs, case):
    attack, _ = _run_or_check_refusal(runs, name, signal)
    if attack is None:
        return
    for required in attack.required_signals:
        signals = _copy(case.signals)
        signals[required][3] = np.nan
        with pytest.raises(DataError, match="NaN|finite"):
            _score(attack, case, signals=signals)
        signals[required][3] = np.inf
        with pytest.raises(DataError, match="NaN|finite|infinite"):
            _score(attack, case, signals=signals)
        if _is_reference(attack):
            reference_signals = _copy(case.reference.signals)
            replayed = [q.key for q in attack.needs.reference_query_signals if q.request.key == required]
            reference_signals[replayed[0] if replayed else required][5, 1] = np.nan  # the reference models' values of that signal
            with pytest.raises(DataError, match="NaN|finite"):
                _score(attack, case, reference=_with_reference_signals(case, reference_signals).reference)
        else:
            population = _copy(case.population_signals)
            population[required][0] = np.nan
            with pytest.raises(DataError, match="NaN|finite"):
                _build(name, signal).fit(population, case.population_labels)


@pytest.mark.parametrize("name, signal", ATTACK_CASES)
def test_attack_refuses_missing_signal(name, signal, runs, case):
    attack, _ = _run_or_check_refusal(runs, name, signal)
    if attack is None:
        return
    missing = attack.required_signals[0]
    signals = {k: v for k, v in case.signals.items() if k != missing}
    with pytest.raises(CapabilityError, match=missing):
        _score(attack, case, signals=signals)


@pytest.mark.parametrize("name", ATTACK_NAMES)
def test_attack_refuses_use_before_fit_or_without_reference(name, case):
    attack = build_attack({"name": name})
    if _is_reference(attack):
        with pytest.raises(CapabilityError, match="reference"):
            attack.score(case.signals, case.labels, None)
        if attack.needs.population_z:
            without_z = replace(case.reference, population_target=None, population_signals=None, population_in_mask=None)
            with pytest.raises(CapabilityError, match="population"):
                attack.score(case.signals, case.labels, without_z)
        short = replace(case.reference, signals={k: v[:-1] for k, v in case.reference.signals.items()}, in_mask=case.reference.in_mask[:-1])
        with pytest.raises(DataError):
            attack.score(case.signals, case.labels, short)
        return
    if attack.needs_population:
        with pytest.raises(NotFittedError, match="fit"):
            attack.score(case.signals, case.labels)
    else:  # scoring needs no population; only calibrated decisions do
        assert attack.score(case.signals, case.labels).shape == case.labels.shape
    with pytest.raises(NotFittedError, match="fit"):
        attack.predict(case.signals, case.labels, fpr=0.1)
    with pytest.raises(DataError):
        attack.fit({k: v[:0] for k, v in case.population_signals.items()}, case.population_labels[:0])


# --- signal attacks: calibrated decisions -------------------------------------------------------------

SIGNAL_ATTACK_CASES = [c for c in ATTACK_CASES if not _is_reference(ATTACKS.get(c.values[0])())]


@pytest.mark.parametrize("name, signal", SIGNAL_ATTACK_CASES)
@pytest.mark.parametrize("fpr", [0.01, 0.1, 0.5])
def test_signal_attack_predict_respects_fpr_on_population(name, signal, fpr, runs, case):
    attack, _ = _run_or_check_refusal(runs, name, signal)
    if attack is None:
        return
    flagged = _predict(attack, case, case.population_signals, case.population_labels, fpr=fpr, population=True)
    assert flagged.dtype == bool and flagged.shape == case.population_labels.shape
    assert flagged.mean() <= fpr
    decisions = _predict(attack, case, case.signals, case.labels, fpr=fpr)
    assert decisions.shape == case.labels.shape
    # decisions are a threshold on the score: every flagged record outscores every unflagged one
    scores = _score(attack, case)
    if decisions.any() and (~decisions).any():
        assert scores[decisions].min() > scores[~decisions].max()
    for bad in (0.0, 1.0, -0.1):
        with pytest.raises(ValueError):
            _predict(attack, case, case.signals, case.labels, fpr=bad)


@pytest.mark.parametrize("name", [n for n in ATTACK_NAMES if not _is_reference(ATTACKS.get(n)())])
@settings(max_examples=25, deadline=None)
@given(
    population=arrays(np.float64, st.integers(1, 40), elements=st.floats(-5, 5)),
    fpr=st.floats(0.001, 0.999),
)
def test_signal_attack_predict_never_exceeds_fpr(name, population, fpr):
    """For any population (ties included), the fraction of population flagged is at most fpr."""
    population = np.round(population, 1)  # many ties
    labels = np.zeros(population.size, dtype=np.int64)
    attack = build_attack({"name": name})
    signals = {attack.required_signals[0]: population}
    if attack.needs.features:  # a regressor (QMIA) refuses populations this small in one line; its FPR is tested in test_qmia.py
        with pytest.raises(DataError, match="population records"):
            attack.fit(signals, labels, features=np.zeros((population.size, 1)))
        return
    attack.fit(signals, labels)
    assert attack.predict(signals, labels, fpr=fpr).mean() <= fpr
