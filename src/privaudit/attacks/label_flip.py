"""Label-only attacks on the flip distance: raw, and calibrated per record with reference models.

``label_only_flip`` thresholds the target's flip distance
(:mod:`privaudit.query_signals.flips`): the mean number of categorical values
replaced, in random orders, before the target's label changes. It is the
perturbation-strength score of Li & Zhang (2021, "Membership Leakage in
Label-Only Exposures", CCS) with the tabular augmentation of Choquette-Choo
et al. (2021, "Label-Only Membership Inference Attacks", ICML).

``label_only_flip_calibrated`` removes each record's *difficulty* from it, as
LiRA does for confidences (Carlini et al. 2022, "Membership Inference Attacks
From First Principles", offline variant, §IV-C, a one-sided Gaussian test against
the OUT distribution): the same copies of the record (same orders, same replacement
values) are asked of K reference models trained like the target on population
records, which never saw the audited records, and

    score(x, y) = (d_target(x, y) − μ_out(x, y)) / √(σ_out(x, y)² + σ₀²) ,

where d_target is the target's flip distance over R orders (its R·C-query budget),
μ_out and σ_out the mean and standard deviation (ddof 0) of the OUT reference
models' flip distances over the first ``reference_orders`` of those orders, and
σ₀ = :data:`SIGMA_FLOOR` (half a flip) keeps records on which every reference model
agrees from dividing by zero. ``variance="global"`` divides every record by the
same σ instead, i.e. ranks by d_target − μ_out. The choice was made on the reference
side, not on audited records: with one demo reference model playing the target
(its 1,000 training records against 4,000 other population records, 4 orders, the
other 15 models calibrating), per-example gave TPR 6.2 % [4.8, 7.9] at 1 % FPR
against 5.0 % [3.7, 6.5] for the global variance (intervals overlap), at equal AUC
(0.687 vs 0.685); BENCHMARKS.md, "label-only attacks at low FPR". A record the target keeps robust although models that did not train
on it give way early scores high; a record every model keeps (an easy, typical
record) scores near 0 — which breaks the tie at the top of the raw score, where
~30 % of the demo's records keep their label in every copy. Reference models are
the attacker's own: they are asked every copy without early stopping, and those
rows are *not* target queries (the audit's query count holds only the target's;
the reference rows are reported as ``replayed_rows`` in the reference info).
"""

from __future__ import annotations

import numpy as np

from privaudit.attacks.base import ATTACKS
from privaudit.attacks.label_only import QuerySignalAttack
from privaudit.attacks.needs import AttackNeeds
from privaudit.attacks.reference import ReferenceAttack, check_reference_signal
from privaudit.exceptions import ConfigError, DataError
from privaudit.query_signals import QueryRequest, ReplayRequest, query_request
from privaudit.query_signals.base import check_whole_number

__all__ = ["LabelOnlyFlipAttack", "LabelOnlyFlipCalibratedAttack", "calibrated_flip_scores", "SIGMA_FLOOR", "calibrated_flip_attacks_for"]

#: σ₀, in flips: added in quadrature to each record's reference standard deviation (per-example variance).
SIGMA_FLOOR = 0.5


@ATTACKS.register("label_only_flip")
class LabelOnlyFlipAttack(QuerySignalAttack):
    """Flip-distance attack on predicted labels only (no reference models).

    Score: the mean number of categorical values replaced, in random orders, before
    the target's label changes, in [1, C + 1] (0 for misclassified records); higher =
    more likely a member. Spends at most ``queries_per_record`` queries per record
    (``queries_per_record // C`` orders of C flips, each ending at its first changed label).

    Parameters
    ----------
    queries_per_record : int
        Budget per record; at least the number C of categorical columns with more than one value.
    """

    name = "label_only_flip"
    query_signal_name = "flip_distance"

    def __init__(self, *, queries_per_record: int = 200) -> None:
        self.queries_per_record = queries_per_record


def calibrated_flip_scores(target: np.ndarray, reference: np.ndarray, in_mask: np.ndarray, *, variance: str = "per_example") -> np.ndarray:
    """``(target − μ_out) / √(σ_out² + σ₀²)`` per record, shape (n,) (``variance="global"``: ``target − μ_out``).

    Parameters
    ----------
    target : ndarray (n,)
        The target's flip distances.
    reference : ndarray (n, K)
        The reference models' flip distances on the same copies.
    in_mask : bool ndarray (n, K)
        True where a record trained reference model k (those entries are left out).
    variance : {"per_example", "global"}

    Raises
    ------
    DataError
        When a record has no OUT reference model.

    Examples
    --------
    >>> calibrated_flip_scores(np.array([9.0, 9.0]), np.array([[9.0, 9.0], [3.0, 5.0]]), np.zeros((2, 2), bool), variance="global")
    array([0., 5.])
    >>> calibrated_flip_scores(np.array([9.0, 9.0]), np.array([[9.0, 9.0], [3.0, 5.0]]), np.zeros((2, 2), bool)).round(3)
    array([0.   , 4.472])
    """
    if variance not in ("per_example", "global"):
        raise ConfigError(f"variance must be 'per_example' or 'global', not {variance!r}")
    out = ~np.asarray(in_mask, dtype=bool)
    count = out.sum(axis=1)
    if (count == 0).any():
        raise DataError(f"{int((count == 0).sum())} record(s) trained every reference model, so none gives an OUT flip distance; "
                        "use offline reference models (mode: offline) or more models")
    reference = np.asarray(reference, dtype=np.float64)
    mean = np.where(out, reference, 0.0).sum(axis=1) / count
    margin = np.asarray(target, dtype=np.float64) - mean
    if variance == "global":
        return margin
    spread = np.where(out, (reference - mean[:, None]) ** 2, 0.0).sum(axis=1) / count
    return margin / np.sqrt(spread + SIGMA_FLOOR**2)


@ATTACKS.register("label_only_flip_calibrated")
class LabelOnlyFlipCalibratedAttack(ReferenceAttack):
    """Flip distance calibrated per record with reference models (see the module docstring), labels only.

    Score: the target's flip distance minus the mean flip distance of the reference
    models that did not train on the record, on the same copies, in units of their
    standard deviation (floored at :data:`SIGMA_FLOOR`); higher = more likely a member. The target spends at most ``queries_per_record`` queries per record; the
    reference models answer ``1 + reference_orders · C`` copies of each record, outside that budget.

    Parameters
    ----------
    queries_per_record : int
        The target's budget per record (``queries_per_record // C`` orders).
    reference_orders : int ≥ 1
        Orders replayed on each reference model (the first of the target's; capped at its number of orders).
    mode : {"offline", "online"}
        Reference models the attack asks for; either way only OUT models are compared.
    variance : {"per_example", "global"}
        Divide by each record's OUT standard deviation (with the floor σ₀) or by one for all.

    Examples
    --------
    >>> attack = LabelOnlyFlipCalibratedAttack(queries_per_record=40, reference_orders=2)
    >>> attack.required_signals
    ('flip_distance:queries_per_record=40',)
    >>> attack.needs.reference_query_signals[0].key
    'flip_distance:queries_per_record=40|reference_orders=2'
    """

    name = "label_only_flip_calibrated"

    def __init__(self, *, queries_per_record: int = 200, reference_orders: int = 4, mode: str = "offline", variance: str = "per_example") -> None:
        self.queries_per_record = queries_per_record
        self.reference_orders = reference_orders
        self.mode = mode
        self.variance = variance

    @property
    def query_signal(self) -> QueryRequest:
        try:
            return query_request("flip_distance", queries_per_record=self.queries_per_record)
        except ConfigError as exc:
            raise ConfigError(f"attack '{self.name}': {exc}") from None

    @property
    def replay(self) -> ReplayRequest:
        orders = check_whole_number(f"attack '{self.name}': reference_orders", self.reference_orders, 1)
        return ReplayRequest(self.query_signal, orders)

    @property
    def required_signals(self) -> tuple[str, ...]:
        return (QueryRequest("flip_distance", (("queries_per_record", self.queries_per_record),)).key,)

    @property
    def display_name(self) -> str:
        return (f"{self.name}[{self.mode},{self.variance},queries_per_record={self.queries_per_record},"
                f"reference_orders={self.reference_orders}]")

    @property
    def needs(self) -> AttackNeeds:
        """The target's flip distance (a query signal) and the same copies asked of reference models in ``mode``."""
        if self.mode not in ("offline", "online"):
            raise ConfigError(f"attack '{self.name}': mode must be 'offline' or 'online', not {self.mode!r}")
        if self.variance not in ("per_example", "global"):
            raise ConfigError(f"attack '{self.name}': variance must be 'per_example' or 'global', not {self.variance!r}")
        return AttackNeeds(reference=True, reference_mode=self.mode, query_signals=(self.query_signal,), reference_query_signals=(self.replay,))

    def _score(self, signals, labels, reference) -> np.ndarray:
        key = self.required_signals[0]
        target = np.asarray(signals[key], dtype=np.float64)
        values = check_reference_signal(reference, self.replay.key, target.size, self.display_name)
        return calibrated_flip_scores(target, values, reference.in_mask, variance=self.variance)


def calibrated_flip_attacks_for(features, reference_mode: str | None) -> list:
    """``[LabelOnlyFlipCalibratedAttack(mode=reference_mode)]`` when reference models are configured and ``features``
    hold a categorical column with more than one value; else ``[]``.

    A default for label-only targets beside :func:`~privaudit.attacks.label_only.label_only_attacks_for`: on the
    demo's overfit MLP it is the one label-only attack with a TPR at 1 % FPR above 0 (BENCHMARKS.md, "label-only
    attacks at low FPR"). Its 200-query default budget must cover the categorical columns; with more than 200 of
    them it is left out.
    """
    if reference_mode is None or features is None or features.shape[1] == 0 or len(features) == 0:
        return []
    from privaudit.query_signals import FeatureSpace
    from privaudit.query_signals.flips import flippable_columns

    count = flippable_columns(FeatureSpace.fit(features)).size
    return [LabelOnlyFlipCalibratedAttack(mode=reference_mode)] if 0 < count <= 200 else []
