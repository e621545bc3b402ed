"""Query signals: ask the target about perturbed copies of each record, using its predicted labels only.

:func:`privaudit.signals.compute_signals` asks a target once per record and
turns its outputs into signals. :func:`compute_query_signals` here is the
**second and only other place privaudit calls a target**: it perturbs each
record, asks again in batches (through the target's ``predict``, the same
public batch method every target has, remote ones included), counts every
row asked, and returns one number per record. Attacks then score those
numbers like any other signal and never see the target.

Registered query signals (:data:`QUERY_SIGNALS`; Choquette-Choo et al. 2021):

* ``augmentation_robustness`` — share of k randomly perturbed copies (plus the
  record) labelled correctly (:mod:`~privaudit.query_signals.augmentation`);
* ``boundary_distance`` — L2 distance to the decision boundary, found within a
  per-record query budget (:mod:`~privaudit.query_signals.boundary`);
* ``flip_distance`` — mean number of categorical values replaced, in random
  orders, before the label changes (:mod:`~privaudit.query_signals.flips`).

Example
-------
>>> import numpy as np, pandas as pd
>>> from sklearn.linear_model import LogisticRegression
>>> from privaudit.data import RecordSet
>>> from privaudit.targets import SklearnTarget
>>> x = pd.DataFrame({"a": np.linspace(-2, 2, 9)})
>>> records = RecordSet(np.arange(9).astype(str), x, (x.a > 0).to_numpy().astype(int), (0, 1))
>>> target = SklearnTarget(LogisticRegression().fit(x, records.labels), output_kind="labels")
>>> request = query_request("augmentation_robustness", k=20, sigma=0.5, flip_p=0.0)
>>> values, spent = compute_query_signals(target, records, [request], seed=0)
>>> values[request.key].round(2).tolist()  # records near the boundary (a = 0) keep their label less often
[1.0, 1.0, 0.95, 0.95, 0.9, 0.57, 0.95, 1.0, 1.0]
>>> int(spent[request.key].queries.sum())  # k = 20 copies of each of 9 records
180
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from privaudit.query_signals import augmentation as _augmentation  # noqa: F401  (registers "augmentation_robustness")
from privaudit.query_signals import boundary as _boundary  # noqa: F401  (registers "boundary_distance")
from privaudit.query_signals import flips as _flips  # noqa: F401  (registers "flip_distance")
from privaudit.query_signals.base import (
    QUERY_SIGNALS,
    LabelOracle,
    QueryCount,
    QueryLedger,
    QueryRequest,
    QuerySignal,
    ReplayCopies,
    ReplayRequest,
    answers_new_records,
    predicted_labels,
    query_request,
    require_queryable,
)
from privaudit.query_signals.space import FeatureSpace
from privaudit.progress import track

__all__ = [
    "QUERY_SIGNALS", "QuerySignal", "QueryRequest", "QueryCount", "QueryLedger", "QuerySpend", "LabelOracle", "FeatureSpace",
    "ReplayCopies", "ReplayRequest",
    "query_request", "request_rng", "compute_query_signals", "check_query_requests", "answers_new_records", "predicted_labels",
]


@dataclass(frozen=True)
class QuerySpend:
    """Queries one query signal spent: ``queries`` per record, shape (n,), and ``predict`` ``calls``."""

    queries: np.ndarray
    calls: int


def request_rng(seed: int, key: str) -> np.random.Generator:
    """A generator fixed by the audit seed and the request (so adding a request never changes another's draws)."""
    return np.random.default_rng([zlib.crc32(key.encode()), int(seed) & 0xFFFFFFFFFFFFFFFF])


def check_query_requests(target, records, requests: Sequence[QueryRequest]) -> FeatureSpace:
    """Refuse, before any query is spent, what cannot be computed: a target that cannot answer perturbed
    copies, records without features, a signal with nothing to perturb. Returns the records' feature space."""
    require_queryable(target, records)
    space = FeatureSpace.fit(records.features)
    for request in requests:
        QUERY_SIGNALS.get(request.name).applies(space, **dict(request.params))
    return space


def compute_query_signals(
    target,
    records,
    requests: Sequence[QueryRequest],
    *,
    correct: np.ndarray | None = None,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, QuerySpend]]:
    """Compute query signals by asking ``target`` about perturbed copies of ``records``.

    Parameters
    ----------
    target : privaudit.targets.Target
        Anything with ``name``, ``output_kind`` and ``predict(records)``; only
        predicted labels are used. Precomputed outputs are refused (they cannot
        answer new records).
    records : RecordSet
        The records to perturb (with features and integer labels).
    requests : sequence of QueryRequest
        From :func:`query_request`; duplicates (same key) are computed once.
    correct : bool array (n,), optional
        Whether the target labels each unperturbed record correctly — the
        ``correctness`` signal the audit computed already. Without it the
        records are asked once more (counted under ``"outputs"``).
    seed : int
        With each request's key, fixes every random draw.
    progress : callable, optional
        Called with a short message before each signal.

    Returns
    -------
    signals : dict of key → array (n,)
    spent : dict of key → QuerySpend
        Queries per record and ``predict`` calls, per request; ``"outputs"`` too
        when ``correct`` was not given.
    """
    requests = list({r.key: r for r in requests}.values())
    if not requests:
        return {}, {}
    space = check_query_requests(target, records, requests)
    spent: dict[str, QuerySpend] = {}
    if correct is None:
        correct = predicted_labels(target, records) == np.asarray(records.labels)
        spent["outputs"] = QuerySpend(np.ones(len(records), dtype=np.int64), 1)
    correct = np.asarray(correct, dtype=bool)
    if correct.shape != (len(records),):
        from privaudit.exceptions import DataError

        raise DataError(f"correct has shape {correct.shape}; expected ({len(records)},), one flag per record")
    signals: dict[str, np.ndarray] = {}
    for request in requests:
        signal = QUERY_SIGNALS.get(request.name)
        budget = len(records) * signal.budget(**dict(request.params)) if signal.budget is not None else 0  # 0: count without a total
        with track(progress, f"{target.name}: querying perturbed copies for {request.key}", budget, "queries") as advance:
            oracle = LabelOracle(target, records, space, advance=advance if progress is not None else None)
            signals[request.key] = np.asarray(signal.function(oracle, correct, request_rng(seed, request.key), **dict(request.params)), dtype=np.float64)
        spent[request.key] = QuerySpend(oracle.queries.copy(), oracle.calls)
    return signals, spent
