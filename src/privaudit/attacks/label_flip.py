"""Label-only attacks on the flip distance: raw, and calibrated per record with reference models.

``label_only_flip`` thresholds the target's flip distance
(:mod:`privaudit.query_signals.flips`): the mean number of categorical values
replaced, in random orders, before the target's label changes. It is the
perturbation-strength score of Li & Zhang (2021, "Membership Leakage in
Label-Only Exposures", CCS) with the tabular augmentation of Choquette-Choo
et al. (2021, "Label-Only Membership Inference Attacks", ICML).

``label_only_flip_calibrated`` removes each record's *difficulty* from it, as
LiRA does for confidences (Carlini et al. 2022, "Membership Inference Attacks
From First Principles", offline variant, §IV-C): the same copies of the record
(same orders, same replacement values) are asked of K reference models trained
like the target on population records, which never saw the audited records, and

    score(x, y) = d_target(x, y) − mean_{k OUT} d_k(x, y) ,

where d_target is the target's flip distance over R orders (its R·C-query budget)
and d_k reference model k's over the first ``reference_orders`` of those orders.
This is offline LiRA's statistic with one global variance (Carlini et al. recommend
a global variance below about 64 reference models; dividing every record by the
same σ leaves the ranking unchanged, so it is left out). A record the target keeps
robust although models that did not train on it give way early scores high;
a record every model keeps (an easy, typical record) scores near 0 — which is what
breaks the tie at the top of the raw score, where ~30 % of the demo's records keep
their label in every copy. Reference models are the attacker's own: they are asked
every copy without early stopping, and those rows are *not* target queries (the
audit's query count holds only the target's; the reference rows are reported as
``replayed_rows`` in the reference info).
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

__all__ = ["LabelOnlyFlipAttack", "LabelOnlyFlipCalibratedAttack", "calibrated_flip_scores"]


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


def calibrated_flip_scores(target: np.ndarray, reference: np.ndarray, in_mask: np.ndarray) -> np.ndarray:
    """``target − mean of the OUT reference values`` per record, shape (n,).

    Parameters
    ----------
    target : ndarray (n,)
        The target's flip distances.
    reference : ndarray (n, K)
        The reference models' flip distances on the same copies.
    in_mask : bool ndarray (n, K)
        True where a record trained reference model k (those entries are left out).

    Raises
    ------
    DataError
        When a record has no OUT reference model.

    Examples
    --------
    >>> calibrated_flip_scores(np.array([9.0, 9.0]), np.array([[9.0, 9.0], [3.0, 5.0]]), np.zeros((2, 2), bool))
    array([0., 5.])
    """
    out = ~np.asarray(in_mask, dtype=bool)
    count = out.sum(axis=1)
    if (count == 0).any():
        raise DataError(f"{int((count == 0).sum())} record(s) trained every reference model, so none gives an OUT flip distance; "
                        "use offline reference models (mode: offline) or more models")
    return np.asarray(target, dtype=np.float64) - np.where(out, reference, 0.0).sum(axis=1) / count


@ATTACKS.register("label_only_flip_calibrated")
class LabelOnlyFlipCalibratedAttack(ReferenceAttack):
    """Flip distance calibrated per record with reference models (see the module docstring), labels only.

    Score: the target's flip distance minus the mean flip distance of the reference
    models that did not train on the record, on the same copies; higher = more likely
    a member. The target spends at most ``queries_per_record`` queries per record; the
    reference models answer ``1 + reference_orders · C`` copies of each record, outside that budget.

    Parameters
    ----------
    queries_per_record : int
        The target's budget per record (``queries_per_record // C`` orders).
    reference_orders : int ≥ 1
        Orders replayed on each reference model (the first of the target's; capped at its number of orders).
    mode : {"offline", "online"}
        Reference models the attack asks for; either way only OUT models are compared.

    Examples
    --------
    >>> attack = LabelOnlyFlipCalibratedAttack(queries_per_record=40, reference_orders=2)
    >>> attack.required_signals
    ('flip_distance:queries_per_record=40',)
    >>> attack.needs.reference_query_signals[0].key
    'flip_distance:queries_per_record=40|reference_orders=2'
    """

    name = "label_only_flip_calibrated"

    def __init__(self, *, queries_per_record: int = 200, reference_orders: int = 4, mode: str = "offline") -> None:
        self.queries_per_record = queries_per_record
        self.reference_orders = reference_orders
        self.mode = mode

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
        return f"{self.name}[{self.mode},queries_per_record={self.queries_per_record},reference_orders={self.reference_orders}]"

    @property
    def needs(self) -> AttackNeeds:
        """The target's flip distance (a query signal) and the same copies asked of reference models in ``mode``."""
        if self.mode not in ("offline", "online"):
            raise ConfigError(f"attack '{self.name}': mode must be 'offline' or 'online', not {self.mode!r}")
        return AttackNeeds(reference=True, reference_mode=self.mode, query_signals=(self.query_signal,), reference_query_signals=(self.replay,))

    def _score(self, signals, labels, reference) -> np.ndarray:
        key = self.required_signals[0]
        target = np.asarray(signals[key], dtype=np.float64)
        values = check_reference_signal(reference, self.replay.key, target.size, self.display_name)
        return calibrated_flip_scores(target, values, reference.in_mask)
