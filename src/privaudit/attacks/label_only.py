"""Label-only attacks (Choquette-Choo et al. 2021): threshold attacks on query signals.

They need only the target's predicted labels, so they still work when
confidence is hidden (``output_defence: {labels_only: true}``, top-k, rounding,
an API that answers a class). Each attack names a query signal and its
parameters (:mod:`privaudit.query_signals`); the audit computes that signal by
asking the target about perturbed copies of every record — the attack itself
only reads the resulting numbers, like every attack::

    attacks:
      - correctness
      - {name: label_only_augmentation, k: 10, sigma: 0.0, flip_p: 0.1}
      - {name: label_only_boundary, queries_per_record: 64}

* ``label_only_augmentation`` — score: share of the record and its ``k``
  perturbed copies labelled correctly (``k`` queries per record);
* ``label_only_boundary`` — score: estimated distance to the decision boundary
  (at most ``queries_per_record`` queries per record).

The signal's key (``required_signals[0]``, e.g.
``augmentation_robustness:flip_p=0.1,k=10,sigma=0``) carries the parameters,
so two settings of one attack never share values.
"""

from __future__ import annotations

import numpy as np

from privaudit.attacks.base import ATTACKS, SignalAttack, check_signal
from privaudit.attacks.needs import AttackNeeds
from privaudit.exceptions import ConfigError
from privaudit.query_signals import QUERY_SIGNALS, FeatureSpace, QueryRequest, query_request

__all__ = ["QuerySignalAttack", "LabelOnlyAugmentationAttack", "LabelOnlyBoundaryAttack", "label_only_attacks_for"]


def _format(value) -> str:
    return format(value, "g") if isinstance(value, float) else str(value)


class QuerySignalAttack(SignalAttack):
    """Threshold attack on a query signal: score = member_direction × signal. Subclasses set ``query_signal_name``.

    Parameters are the query signal's, stored unchanged by ``__init__`` and
    checked when :attr:`needs` (or :attr:`query_signal`) is read, which ``build_attack`` does.
    """

    query_signal_name: str = ""

    @property
    def query_signal(self) -> QueryRequest:
        """The validated request the audit must compute for this attack (ConfigError on bad parameters)."""
        try:
            return query_request(self.query_signal_name, **self.get_params())
        except ConfigError as exc:
            raise ConfigError(f"attack '{self.name}': {exc}") from None

    @property
    def signal(self) -> str:
        """Key of the query signal this attack scores (its name and parameters)."""
        return QueryRequest(self.query_signal_name, tuple(self.get_params().items())).key

    @property
    def required_signals(self) -> tuple[str, ...]:
        return (self.signal,)

    @property
    def needs(self) -> AttackNeeds:
        """One query signal (perturbed copies of every record), stored under its key; no plain-query signal."""
        return AttackNeeds(query_signals=(self.query_signal,))

    @property
    def display_name(self) -> str:
        return f"{self.name}[" + ",".join(f"{k}={_format(v)}" for k, v in self.get_params().items()) + "]"

    def _oriented(self, signals, labels) -> np.ndarray:
        direction = QUERY_SIGNALS.get(self.query_signal_name).member_direction
        return direction * check_signal(signals, self.signal, labels, self.display_name)

    def _score(self, signals, labels) -> np.ndarray:
        return self._oriented(signals, labels)


@ATTACKS.register("label_only_augmentation")
class LabelOnlyAugmentationAttack(QuerySignalAttack):
    """Augmentation / noise robustness attack (Choquette-Choo et al. 2021), on predicted labels only.

    Score: the share of the record and ``k`` perturbed copies the target labels
    correctly, in [0, 1]; higher = more likely a member. Spends ``k`` queries
    per record. See :mod:`privaudit.query_signals.augmentation` for the
    perturbation and the equations.

    Parameters
    ----------
    k : int ≥ 1
        Perturbed copies per record.
    sigma : float ≥ 0
        Gaussian noise on numeric columns, in standard deviations of each column.
        Default 0: the paper perturbs tabular records by flipping features, and on
        the demo's MLP (numeric columns one-hot encoded or binned) numeric noise
        makes members *less* robust than non-members (BENCHMARKS.md).
    flip_p : float in [0, 1]
        Probability of replacing each categorical value by another observed one.

    Examples
    --------
    >>> import numpy as np
    >>> attack = LabelOnlyAugmentationAttack(k=4)
    >>> attack.required_signals
    ('augmentation_robustness:flip_p=0.1,k=4,sigma=0',)
    >>> attack.score({attack.signal: np.array([1.0, 0.4])}, np.array([0, 1]))
    array([1. , 0.4])
    """

    name = "label_only_augmentation"
    query_signal_name = "augmentation_robustness"

    def __init__(self, *, k: int = 10, sigma: float = 0.0, flip_p: float = 0.1) -> None:
        self.k = k
        self.sigma = sigma
        self.flip_p = flip_p


@ATTACKS.register("label_only_boundary")
class LabelOnlyBoundaryAttack(QuerySignalAttack):
    """Decision-boundary distance attack (Choquette-Choo et al. 2021), on predicted labels only, with a query budget.

    Score: the estimated L2 distance (standardised numeric units) from the
    record to the target's decision boundary, 0 for misclassified records;
    higher = more likely a member. Spends at most ``queries_per_record``
    queries per record. See :mod:`privaudit.query_signals.boundary` for the search.

    Parameters
    ----------
    queries_per_record : int
        Budget per record; at least ``directions × (2 + search_steps) + 1``.
    max_radius : float > 0
        Search radius in standard deviations; records with no label change within it score ``max_radius``.
    directions : int ≥ 1
        Random lines searched before the refinement along the estimated normal.
    search_steps : int ≥ 1
        Bisection queries per line whose label changed.
    """

    name = "label_only_boundary"
    query_signal_name = "boundary_distance"

    def __init__(self, *, queries_per_record: int = 64, max_radius: float = 4.0, directions: int = 6, search_steps: int = 6) -> None:
        self.queries_per_record = queries_per_record
        self.max_radius = max_radius
        self.directions = directions
        self.search_steps = search_steps


#: Noise of the default augmentation attack on data without categorical columns to flip (standard deviations).
NUMERIC_ONLY_SIGMA = 0.1


def label_only_attacks_for(features) -> list:
    """The label-only query attacks that ``features`` allow, with default parameters. ``None`` or no columns: none.

    * augmentation: categorical flips (``flip_p = 0.1``, no numeric noise) when a categorical column holds
      more than one value, else numeric noise alone (``sigma = NUMERIC_ONLY_SIGMA``, ``flip_p = 0``);
    * boundary distance: when a numeric column varies.
    """
    if features is None or features.shape[1] == 0 or len(features) == 0:
        return []
    space = FeatureSpace.fit(features)
    attacks = []
    if any(f.size > 1 for f in space.frequencies):
        attacks.append(LabelOnlyAugmentationAttack())
    elif space.movable.any():
        attacks.append(LabelOnlyAugmentationAttack(sigma=NUMERIC_ONLY_SIGMA, flip_p=0.0))
    if space.movable.any():
        attacks.append(LabelOnlyBoundaryAttack())
    return attacks
