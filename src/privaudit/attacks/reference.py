"""What attacks that use reference models see: signals of K reference models, and who was IN which.

Reference models are trained "like the target" on chosen subsets of the
records (see ``privaudit.reference``). An attack never sees them, only their
signals, as a :class:`ReferenceSignals`:

* ``signals[name]`` — shape ``(n_records, n_models)``, or
  ``(n_records, n_models, n_queries)`` when each record was queried several
  times (augmentations, stored under ``name@<augmentations key>``, see
  :func:`~privaudit.augmentations.augmented_signal_key`); row ``i`` is audited record ``i``, in the order of
  the target signals passed beside it;
* ``in_mask`` — bool ``(n_records, n_models)``, True where the record was in
  that reference model's training set (online attacks use both sides;
  offline attacks only the False entries);
* ``population_*`` — the same for population records *z* (records known not
  to be in the target's training set), which RMIA compares each record with:
  the target's signals on z, shape ``(n_z,)`` / ``(n_z, n_queries)``, and the
  reference models' ``(n_z, n_models[, n_queries])`` with their own
  ``population_in_mask``.

:class:`ReferenceAttack` is the base of every such attack: the scikit-learn
contract of :class:`~privaudit.attacks.base.SignalAttack`, and
``score(signals, labels, reference)`` → ``(n_records,)``, higher = more likely
a member.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
from sklearn.base import BaseEstimator

from privaudit.attacks.base import check_signal
from privaudit.attacks.needs import AttackNeeds
from privaudit.augmentations import Augmentations, augmented_signal_key, parse_augment
from privaudit.exceptions import CapabilityError, DataError

__all__ = ["ReferenceSignals", "ReferenceAttack", "check_reference_signal"]


@dataclass(frozen=True)
class ReferenceSignals:
    """Reference models' signals on the audited (and population) records; see the module docstring."""

    signals: Mapping[str, np.ndarray]
    in_mask: np.ndarray
    population_target: Mapping[str, np.ndarray] | None = None
    population_signals: Mapping[str, np.ndarray] | None = None
    population_in_mask: np.ndarray | None = None
    population_labels: np.ndarray | None = None
    model_ids: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        in_mask = np.asarray(self.in_mask)
        if in_mask.ndim != 2 or in_mask.dtype != bool:
            raise DataError(f"reference in_mask must be a bool array (n_records, n_models), got {in_mask.dtype} {in_mask.shape}")
        for name, values in self.signals.items():
            if np.shape(values)[:2] != in_mask.shape:
                raise DataError(f"reference signal '{name}' has shape {np.shape(values)}; expected {in_mask.shape} (n_records, n_models[, n_queries])")
        if self.population_signals is not None:
            z_mask = np.asarray(self.population_in_mask)
            if z_mask.ndim != 2 or z_mask.shape[1] != in_mask.shape[1]:
                raise DataError(f"population_in_mask has shape {z_mask.shape}; expected (n_population, {in_mask.shape[1]})")
            for name, values in self.population_signals.items():
                if np.shape(values)[:2] != z_mask.shape:
                    raise DataError(f"population reference signal '{name}' has shape {np.shape(values)}; expected {z_mask.shape}")

    @property
    def n_models(self) -> int:
        return int(np.asarray(self.in_mask).shape[1])

    @property
    def n_records(self) -> int:
        return int(np.asarray(self.in_mask).shape[0])

    @property
    def has_population(self) -> bool:
        return self.population_signals is not None and self.population_target is not None


def check_reference_signal(reference: ReferenceSignals, name: str, n_records: int, attack: str, *, population: bool = False) -> np.ndarray:
    """Return the reference models' signal ``name`` as float64, refusing missing or non-finite input."""
    if not isinstance(reference, ReferenceSignals):
        raise CapabilityError(f"attack '{attack}' needs reference models' signals (a ReferenceSignals), got {type(reference).__name__}")
    source = reference.population_signals if population else reference.signals
    where = "population records" if population else "audited records"
    if source is None or name not in source:
        raise CapabilityError(f"attack '{attack}' needs reference signal '{name}' on {where}, which was not computed")
    values = np.asarray(source[name], dtype=np.float64)
    if not population and values.shape[0] != n_records:
        raise DataError(f"attack '{attack}': reference signal '{name}' covers {values.shape[0]} records, the target's {n_records}")
    if not np.all(np.isfinite(values)):
        raise DataError(f"attack '{attack}': reference signal '{name}' has {int((~np.isfinite(values)).sum())} NaN or infinite values")
    return values


class ReferenceAttack(BaseEstimator):
    """Base for attacks that compare the target with reference models.

    Subclasses set ``name``, ``required_signals``, and implement
    ``_score(signals, labels, reference)``. Their :attr:`needs` tell the
    pipeline to train reference models in ``mode``; ``needs_population_z`` that the
    reference signals must include population records (RMIA).
    """

    name: str = "reference_attack"
    needs_population: bool = False
    needs_population_z: bool = False
    #: "online" attacks need reference models with each record IN; "offline" only OUT models.
    mode: str = "online"
    #: the ``augment`` parameter (None: one plain query per record); see :attr:`augmentation`
    augment = None

    @property
    def required_signals(self) -> tuple[str, ...]:
        """The signals ``score`` reads: ``(self.signal,)`` for one-signal attacks; override otherwise."""
        return (self.signal,)

    @property
    def display_name(self) -> str:
        return self.name

    @property
    def augmentation(self) -> Augmentations | None:
        """The parsed ``augment`` parameter (:func:`~privaudit.augmentations.parse_augment`), or None for one plain query."""
        return parse_augment(self.augment, attack=self.name)

    def signal_key(self, name: str) -> str:
        """Where signal ``name`` is read from: ``name``, or ``name@<augmentations key>`` for an augmented attack."""
        return augmented_signal_key(name, self.augmentation)

    @property
    def needs(self) -> AttackNeeds:
        """Reference models in ``mode`` (and population records z when ``needs_population_z``), plus the target's signals
        (on the augmented copies of each record when ``augment`` is set)."""
        augmentation = self.augmentation
        return AttackNeeds(signals=tuple(self.required_signals), population=bool(self.needs_population), reference=True,
                           reference_mode=self.mode, population_z=bool(self.needs_population_z),
                           augmentations=() if augmentation is None else (augmentation,))

    def fit(self, signals=None, labels=None, reference: ReferenceSignals | None = None) -> "ReferenceAttack":
        """Nothing to learn beyond what ``score`` reads from ``reference``; returns ``self``."""
        return self

    def score(self, signals: Mapping[str, np.ndarray], labels: np.ndarray, reference: ReferenceSignals) -> np.ndarray:
        """Membership score per record, shape (n,), higher = more likely a member."""
        labels = np.asarray(labels)
        for name in map(self.signal_key, self.required_signals):
            values = np.asarray(signals.get(name)) if name in signals else None
            if values is not None and values.ndim == 2:  # (n, n_queries)
                if values.shape[0] != labels.shape[0] or not np.all(np.isfinite(values)):
                    raise DataError(f"attack '{self.display_name}': signal '{name}' must be finite with one row per record")
            else:
                check_signal(signals, name, labels, self.display_name)
        if not isinstance(reference, ReferenceSignals):
            raise CapabilityError(f"attack '{self.display_name}' needs reference models' signals (a ReferenceSignals), got {type(reference).__name__}")
        if reference.n_records != labels.shape[0]:
            raise DataError(f"attack '{self.display_name}': reference signals cover {reference.n_records} records, labels {labels.shape[0]}")
        if self.needs_population_z and not reference.has_population:
            raise CapabilityError(f"attack '{self.display_name}' needs the target's and reference models' signals on population records z")
        return self._score(signals, labels, reference)

    def _score(self, signals, labels, reference) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError
