"""What every attack shares: the registry, input checks and the scikit-learn contract.

An attack turns signals into one membership score per record, **higher = more
likely a member**, always. It never sees a model, so it can be tested on
synthetic arrays and run on signals someone else computed.

Contract (checked for every registered attack by ``tests/test_conformance.py``):

* ``__init__`` stores keyword-only parameters and nothing else;
* ``required_signals`` names the signals it reads;
* ``needs_population`` says whether ``fit`` must see population records
  (records known not to be in training);
* ``needs`` is the :class:`~privaudit.attacks.needs.AttackNeeds` record the
  pipeline reads (signals, population, reference models, queries);
* ``fit(signals, labels)`` returns ``self``; fitted attributes end in ``_``;
* ``score(signals, labels)`` returns a float array of shape ``(n_records,)``;
* ``predict(signals, labels, fpr)`` turns scores into member / non-member
  decisions at a false-positive rate calibrated on the population.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
from sklearn.base import BaseEstimator

from privaudit.attacks.needs import AttackNeeds
from privaudit.exceptions import CapabilityError, ConfigError, DataError, NotFittedError
from privaudit.registry import Registry

__all__ = ["ATTACKS", "SignalAttack", "check_signal", "build_registered"]

ATTACKS: Registry[type] = Registry("attack")


def build_registered(registry: Registry, spec: str | Mapping, *, hint: str = ""):
    """Build an attack from a name or ``{"name": ..., **params}`` by ``registry`` (tabular or text attacks).

    Checks shared by every attack registry: the entry has a name, the name is
    registered (else the known names, then ``hint``), and every parameter is
    one the class's ``__init__`` takes. Raises :class:`ConfigError` naming the fix.
    """
    kind = registry.kind
    params = {"name": spec} if isinstance(spec, str) else dict(spec)
    name = params.pop("name", None)
    if name is None:
        raise ConfigError(f"{'an' if kind[0] in 'aeiou' else 'a'} {kind} entry needs a 'name'")
    if name not in registry:
        raise ConfigError(f"unknown {kind} '{name}'; known {kind}s: {', '.join(registry.names())}{hint}")
    cls = registry.get(name)
    valid = set(cls().get_params())
    unknown = set(params) - valid
    if unknown:
        raise ConfigError(f"{kind} '{name}' has no parameter {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(valid)) or 'none'}")
    return cls, params


def check_signal(signals: Mapping[str, np.ndarray], name: str, labels: np.ndarray, attack: str) -> np.ndarray:
    """Return ``signals[name]`` as float64 (n,), refusing missing, misshapen or non-finite input."""
    if name not in signals:
        raise CapabilityError(f"attack '{attack}' needs signal '{name}', which was not computed (have: {', '.join(sorted(signals)) or 'none'})")
    values = np.asarray(signals[name], dtype=np.float64)
    labels = np.asarray(labels)
    if values.ndim != 1 or values.shape != labels.shape:
        raise DataError(f"attack '{attack}': signal '{name}' has shape {values.shape}, labels {labels.shape}; both must be (n_records,)")
    if not np.all(np.isfinite(values)):
        raise DataError(f"attack '{attack}': signal '{name}' has {int((~np.isfinite(values)).sum())} NaN or infinite values")
    return values


class SignalAttack(BaseEstimator):
    """Base for attacks on one signal; subclasses set ``name`` and implement ``_score``."""

    name: str = "signal_attack"
    needs_population: bool = False

    def __init__(self, *, signal: str = "loss") -> None:
        self.signal = signal

    @property
    def required_signals(self) -> tuple[str, ...]:
        return (self.signal,)

    @property
    def display_name(self) -> str:
        return f"{self.name}[{self.signal}]"

    @property
    def needs(self) -> AttackNeeds:
        """What the pipeline must compute before ``fit``/``score``: the signals, and population records if ``needs_population``."""
        return AttackNeeds(signals=tuple(self.required_signals), population=bool(self.needs_population))

    def _oriented(self, signals, labels) -> np.ndarray:
        from privaudit.signals import SIGNALS

        direction = SIGNALS.get(self.signal).member_direction
        return direction * check_signal(signals, self.signal, labels, self.display_name)

    def _check_fitted(self) -> None:
        if not hasattr(self, "population_scores_"):
            raise NotFittedError(f"attack '{self.display_name}' is not fitted: call fit() on population records first")

    def fit(self, signals: Mapping[str, np.ndarray], labels: np.ndarray) -> "SignalAttack":
        """Learn from population (known non-member) records; returns ``self``."""
        labels = np.asarray(labels)
        if labels.size == 0:
            raise DataError(f"attack '{self.display_name}': fit needs at least one population record")
        self._fit(signals, labels)
        self.population_scores_ = np.sort(self.score(signals, labels))
        return self

    def _fit(self, signals, labels) -> None:
        """Subclass hook: learn fitted attributes before population scores are taken."""

    def score(self, signals: Mapping[str, np.ndarray], labels: np.ndarray) -> np.ndarray:
        """Membership score per record, shape (n,), higher = more likely a member."""
        return self._score(signals, np.asarray(labels))

    def predict(self, signals: Mapping[str, np.ndarray], labels: np.ndarray, *, fpr: float) -> np.ndarray:
        """Boolean member decisions with a threshold set so that a fraction ≤ ``fpr`` of population records is flagged."""
        self._check_fitted()
        if not 0 < fpr < 1:
            raise ValueError("fpr must lie in (0, 1)")
        pop = self.population_scores_
        # smallest threshold t with #(pop ≥ t... strictly >) ≤ fpr·n: flag scores strictly above the (1 − fpr) order statistic
        k = int(np.floor(fpr * pop.size))
        threshold = pop[pop.size - k - 1] if k < pop.size else -np.inf
        return self.score(signals, labels) > threshold

    def _score(self, signals, labels) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError
