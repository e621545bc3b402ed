"""What every query signal shares: the registry, parameter requests, the counting label oracle, query tallies.

A query signal asks the target about *perturbed copies* of each record and
measures how robust its predicted label is. Only predicted labels are used
(the argmax when the target gives scores), so these signals work on targets
that hide their confidence: labels only, top-k or rounded scores, a remote API.

One query = one row the target answers. Every row is a copy of one audited
record (its ``owner``), so queries are counted per record exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from privaudit.exceptions import CapabilityError, ConfigError
from privaudit.registry import Registry

__all__ = [
    "QuerySignal", "QUERY_SIGNALS", "QueryRequest", "query_request", "LabelOracle", "QueryCount", "QueryLedger",
    "predicted_labels", "answers_new_records", "QUERY_BATCH_ROWS", "ReplayCopies", "ReplayRequest",
]

#: Rows per ``predict`` call. Bounds the memory of a perturbed feature table; a target may split a call further.
QUERY_BATCH_ROWS = 50_000


@dataclass(frozen=True)
class QuerySignal:
    """A registered query signal.

    Attributes
    ----------
    name : str
    function : callable
        ``function(oracle, correct, rng, **params) -> ndarray (n,)``: ``oracle`` is a
        :class:`LabelOracle` over the n records, ``correct`` a bool array (n,) saying
        whether the target already labels each unperturbed record correctly (that
        answer is reused, not asked again), ``rng`` a seeded numpy Generator.
    member_direction : {+1, -1}
        +1 if members tend to score higher.
    check : callable
        ``check(**params) -> dict``: validated parameters (raises :class:`ConfigError`).
    applies : callable
        ``applies(space, **params)``: raises :class:`CapabilityError` when the records'
        :class:`~privaudit.query_signals.space.FeatureSpace` leaves nothing to perturb;
        called before any query is spent.
    description : str
    budget : callable, optional
        ``budget(**params) -> int``: the most queries the signal asks per record (a
        progress step's total; the step may end sooner).
    replay : callable, optional
        ``replay(space, numeric, codes, rng, orders, **params) -> ReplayCopies``: the same
        perturbed copies (same ``rng``), limited to ``orders`` rounds and without early
        stopping, to be asked of reference models (:class:`ReplayRequest`); None when the
        signal cannot be replayed.
    """

    name: str
    function: Callable[..., np.ndarray]
    member_direction: int
    check: Callable[..., dict]
    applies: Callable[..., None]
    description: str
    budget: Callable[..., int] | None = None
    replay: Callable[..., "ReplayCopies"] | None = None


@dataclass(frozen=True)
class ReplayCopies:
    """Perturbed copies to ask reference models about, and how their answers become one value per record and model.

    Attributes
    ----------
    owner : ndarray of int, shape (N,)
        The record each copy belongs to.
    numeric, codes : ndarray, shapes (N, m) and (N, c)
        The copies' raw numeric values and category codes.
    values : callable
        ``values(hits) -> ndarray (n, n_models)`` from ``hits``, bool (N, n_models): whether each
        model gave copy i its record's label.
    """

    owner: np.ndarray
    numeric: np.ndarray
    codes: np.ndarray
    values: Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class ReplayRequest:
    """A query signal to compute on reference models too, from ``orders`` rounds of the target's own copies.

    Reference models are the attacker's own, so their queries are not counted against the
    target's budget. ``key`` names the values in the reference signals (the request's key
    and ``reference_orders``).
    """

    request: "QueryRequest"
    orders: int

    @property
    def key(self) -> str:
        return f"{self.request.key}|reference_orders={self.orders}"


QUERY_SIGNALS: Registry[QuerySignal] = Registry("query signal")


def _format(value: Any) -> str:
    return format(value, "g") if isinstance(value, float) else str(value)


@dataclass(frozen=True)
class QueryRequest:
    """One query signal with its parameters. ``key`` names its values in a signals mapping.

    The key lists the parameters sorted by name and uses only letters, digits
    and ``_ : = , . -`` (e.g. ``augmentation_robustness:flip_p=0.1,k=10,sigma=0.5``),
    so it can be matched literally in messages.
    """

    name: str
    params: tuple

    @property
    def key(self) -> str:
        return f"{self.name}:" + ",".join(f"{k}={_format(v)}" for k, v in sorted(self.params))


def query_request(name: str, **params) -> QueryRequest:
    """A validated :class:`QueryRequest` (unknown names raise UnknownNameError, bad values ConfigError)."""
    signal = QUERY_SIGNALS.get(name)
    checked = signal.check(**params)
    return QueryRequest(name, tuple(checked.items()))


def answers_new_records(target) -> bool:
    """Whether ``target`` can answer records it has not seen (a file of precomputed outputs cannot)."""
    return bool(getattr(target, "answers_new_records", True))


def predicted_labels(target, records) -> np.ndarray:
    """The target's predicted class index per record, shape (n,): its answer if label-only, else the argmax."""
    outputs = np.asarray(target.predict(records))
    if target.output_kind == "labels":
        return outputs.reshape(-1).astype(np.intp)
    return np.argmax(outputs, axis=1).astype(np.intp)


class LabelOracle:
    """The target behind a counter: predicted labels for perturbed copies of n records.

    Parameters
    ----------
    target : Target
    records : RecordSet
        The n records whose copies are asked about; copies keep their record's id and label.
    space : privaudit.query_signals.space.FeatureSpace
        Fitted on ``records.features``.
    advance : callable, optional
        ``advance(rows)`` after each ``predict`` call (progress).

    Attributes
    ----------
    numeric : ndarray (n, m)
        The records' raw numeric values (columns ``space.numeric``).
    codes : ndarray (n, c)
        Their category codes (columns ``space.categorical``).
    labels : ndarray (n,)
    queries : ndarray of int64 (n,)
        Rows answered so far, per record.
    calls : int
        ``predict`` calls made so far (each at most ``QUERY_BATCH_ROWS`` rows).
    """

    def __init__(self, target, records, space, *, advance: Callable[[int], None] | None = None) -> None:
        self.target = target
        self.advance = advance  # called with the rows of each answered predict call (a progress step's advance)
        self.records = records
        self.space = space
        self.numeric, self.codes = space.encode(records.features)
        self.labels = np.asarray(records.labels, dtype=np.intp)
        self.queries = np.zeros(len(records), dtype=np.int64)
        self.calls = 0

    def ask(self, owner: np.ndarray, numeric: np.ndarray, codes: np.ndarray) -> np.ndarray:
        """Predicted class of each row, shape (N,); row i is a copy of record ``owner[i]`` with the given values."""
        from privaudit.data import RecordSet

        owner = np.asarray(owner, dtype=np.intp)
        predicted = np.empty(owner.size, dtype=np.intp)
        for start in range(0, owner.size, QUERY_BATCH_ROWS):
            part = slice(start, start + QUERY_BATCH_ROWS)
            rows = owner[part]
            copies = RecordSet(self.records.ids[rows], self.space.frame(numeric[part], codes[part]), self.labels[rows], self.records.classes, self.records.image_shape)
            predicted[part] = predicted_labels(self.target, copies)
            self.calls += 1
            if self.advance is not None:
                self.advance(int(rows.size))
        self.queries += np.bincount(owner, minlength=self.queries.size)
        return predicted


@dataclass(frozen=True)
class QueryCount:
    """Queries one target answered during an audit. One query = one record's prediction.

    Attributes
    ----------
    total : int
        Every row the target answered: the plain query of each record plus all perturbed copies.
    calls : int
        ``predict`` calls privaudit made (a target may split a call further, e.g. into HTTP requests).
    records : int
        Distinct records asked about (the audited records, plus population records when they were queried).
    by_source : dict
        ``"outputs"`` (the plain query), each query signal's key and ``"augmentations:<key>"`` (the Q
        augmented copies of each record, :mod:`privaudit.augmentations`) → ``{"total", "per_record",
        "max_per_record", "calls", "records"}``; ``per_record`` is the mean over the records it covers.
    """

    total: int
    calls: int
    records: int
    by_source: dict = field(default_factory=dict)

    @property
    def per_record(self) -> float:
        """``total / records`` (0 when nothing was queried)."""
        return self.total / self.records if self.records else 0.0

    def to_dict(self) -> dict:
        return {"total": self.total, "per_record": self.per_record, "calls": self.calls, "records": self.records,
                "by_source": {k: dict(v) for k, v in self.by_source.items()}}


class QueryLedger:
    """Adds up what :func:`~privaudit.signals.compute_signals` and the query signals asked one target."""

    def __init__(self) -> None:
        self._sources: dict[str, dict] = {}
        self._records = 0

    def add_outputs(self, n_records: int) -> None:
        """One plain query of ``n_records`` records (one ``predict`` call)."""
        entry = self._sources.setdefault("outputs", {"total": 0, "calls": 0, "records": 0})
        entry["total"] += int(n_records)
        entry["calls"] += 1
        entry["records"] += int(n_records)
        self._records += int(n_records)

    def add_queries(self, key: str, per_record: np.ndarray, calls: int) -> None:
        """Queries a query signal spent on the records already counted, per record."""
        per_record = np.asarray(per_record, dtype=np.int64)
        self._sources[key] = {"total": int(per_record.sum()), "calls": int(calls), "records": int(per_record.size),
                              "max_per_record": int(per_record.max(initial=0))}

    def count(self) -> QueryCount:
        by_source = {}
        for key, entry in self._sources.items():
            records = entry["records"]
            by_source[key] = {"total": entry["total"], "per_record": entry["total"] / records if records else 0.0,
                              "max_per_record": entry.get("max_per_record", 1 if entry["total"] else 0), "calls": entry["calls"],
                              "records": records}
        return QueryCount(sum(e["total"] for e in self._sources.values()), sum(e["calls"] for e in self._sources.values()),
                          self._records, by_source)


def check_whole_number(name: str, value, minimum: int) -> int:
    """``value`` as an int ≥ ``minimum``, or a ConfigError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(f"{name} must be a whole number ≥ {minimum}, got {value!r}")
    return int(value)


def check_number(name: str, value, *, low: float, high: float = np.inf, low_open: bool = False) -> float:
    """``value`` as a finite float in [low, high] (or (low, high] with ``low_open``), or a ConfigError naming ``name``."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool) and np.isfinite(value)
    if ok:
        ok = (value > low if low_open else value >= low) and value <= high
    if not ok:
        bounds = f"{'(' if low_open else '['}{_format(float(low))}, {_format(float(high)) if np.isfinite(high) else '∞'}{']' if np.isfinite(high) else ')'}"
        raise ConfigError(f"{name} must be a finite number in {bounds}, got {value!r}")
    return float(value)


def require_queryable(target, records) -> None:
    """Refuse targets that cannot answer perturbed copies and records without features, before any query is spent."""
    if not answers_new_records(target):
        raise CapabilityError(
            f"target '{target.name}' answers only from precomputed outputs, so it cannot be asked about perturbed copies of records; "
            "label-only query attacks (label_only_augmentation, label_only_boundary) need a model or API to query — use 'correctness'"
        )
    if records.features.shape[1] == 0:
        raise CapabilityError(f"label-only query attacks perturb the records' features, but the data for target '{target.name}' has no feature columns")
