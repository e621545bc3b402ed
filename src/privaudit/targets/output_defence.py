"""Output defences: post-process what any target answers, as a model owner might before releasing it.

:class:`OutputDefence` is pure maths on one batch of outputs; :class:`OutputDefenceTarget`
wraps any target with it. In a config, any target takes an ``output_defence`` block::

    targets:
      - name: api
        type: sklearn
        path: model.skops
        output_defence: {temperature: 2.0, top_k: 1, round: 2}   # or {labels_only: true}

The steps, applied in this order:

1. ``temperature`` T > 0: probabilities ``softmax(z / T)`` from logits ``z``,
   or from log-probabilities ``log p`` when the target gives probabilities
   (the same thing: ``softmax(z) = softmax(log p)``). T > 1 flattens, T < 1 sharpens;
   the predicted class never changes.
2. ``top_k`` k ≥ 1: keep the k largest probabilities of each row, set the
   others to 0 and **renormalise** the kept ones to sum to 1 (so the answer
   stays a probability vector; ties go to the lower class index).
3. ``round`` d ≥ 0: round to d decimals (numpy's half-to-even), then
   **renormalise** — the rounded vector and its renormalised version hold the same
   information, and signals need rows that sum to 1. A row that rounds to all
   zeros (no information left) becomes uniform.

or, alone, ``labels_only``: answer the predicted class index only. The
wrapped target then advertises ``output_kind = "labels"``, so attacks that
need probabilities (LOSS, LiRA, ...) are refused with a clear error; what
remains are the ``correctness`` attack and the label-only attacks that query
perturbed copies of the records (:mod:`privaudit.attacks.label_only`).

With only ``temperature`` on a logits target the answer stays logits
(``z / T``); otherwise a defended target answers probabilities.

Example
-------
>>> import numpy as np
>>> defence = OutputDefence(top_k=1)
>>> outputs, kind = defence.apply(np.array([[0.2, 0.5, 0.3]]), "probabilities")
>>> outputs.tolist(), kind
([[0.0, 1.0, 0.0]], 'probabilities')
>>> OutputDefence(round=1).apply(np.array([[0.26, 0.34, 0.4]]), "probabilities")[0].round(4).tolist()
[[0.3, 0.3, 0.4]]
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from privaudit.exceptions import CapabilityError, ConfigError
from privaudit.targets.base import check_outputs

__all__ = ["OutputDefence", "OutputDefenceTarget"]


def _log_probabilities(outputs: np.ndarray, kind: str) -> np.ndarray:
    from privaudit.log_probabilities import to_log_probabilities

    return to_log_probabilities(outputs, kind, source="output defence")


def _softmax_of_log(log_values: np.ndarray) -> np.ndarray:
    """Row-wise softmax of values that may hold ``-inf`` (never all of a row)."""
    shifted = log_values - log_values.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def keep_top_k(probabilities: np.ndarray, k: int) -> np.ndarray:
    """Zero all but the ``k`` largest entries of each row and renormalise; ties keep the lower class index."""
    order = np.argsort(-probabilities, axis=1, kind="stable")
    kept = np.zeros_like(probabilities)
    rows = np.arange(probabilities.shape[0])[:, None]
    kept[rows, order[:, :k]] = probabilities[rows, order[:, :k]]
    sums = kept.sum(axis=1, keepdims=True)
    return np.where(sums > 0, kept / np.where(sums > 0, sums, 1.0), 1.0 / probabilities.shape[1])


def round_probabilities(probabilities: np.ndarray, decimals: int) -> np.ndarray:
    """Round to ``decimals`` and renormalise; an all-zero row becomes uniform."""
    rounded = np.round(probabilities, int(decimals))
    sums = rounded.sum(axis=1, keepdims=True)
    return np.where(sums > 0, rounded / np.where(sums > 0, sums, 1.0), 1.0 / probabilities.shape[1])


@dataclass(frozen=True)
class OutputDefence:
    """Which post-processing to apply (see the module docstring for the order and exact rules).

    Parameters
    ----------
    top_k : int, optional
        Keep the k ≥ 1 largest probabilities (renormalised).
    round : int, optional
        Decimals to round probabilities to (0–15; renormalised).
    temperature : float, optional
        Softmax temperature T > 0.
    labels_only : bool
        Answer only the predicted class; cannot be combined with the others.
    """

    top_k: int | None = None
    round: int | None = None
    temperature: float | None = None
    labels_only: bool = False

    def __post_init__(self) -> None:
        if self.top_k is not None and (isinstance(self.top_k, bool) or not isinstance(self.top_k, (int, np.integer)) or self.top_k < 1):
            raise ConfigError(f"output_defence.top_k must be an integer ≥ 1, got {self.top_k!r}")
        if self.round is not None and (isinstance(self.round, bool) or not isinstance(self.round, (int, np.integer)) or not 0 <= self.round <= 15):
            raise ConfigError(f"output_defence.round must be a whole number of decimals from 0 to 15, got {self.round!r}")
        if self.temperature is not None and not (isinstance(self.temperature, (int, float)) and math.isfinite(self.temperature) and self.temperature > 0):
            raise ConfigError(f"output_defence.temperature must be a finite number > 0, got {self.temperature!r}")
        others = [name for name in ("top_k", "round", "temperature") if getattr(self, name) is not None]
        if self.labels_only and others:
            raise ConfigError(f"output_defence: labels_only answers the predicted class alone, so {', '.join(others)} would have no effect; give labels_only alone")
        if not self.labels_only and not others:
            raise ConfigError("output_defence sets nothing; give at least one of top_k, round, temperature or labels_only: true")

    def output_kind(self, kind: str) -> str:
        """What a target of output ``kind`` answers once defended."""
        if kind == "labels":
            if not self.labels_only:
                raise CapabilityError("output_defence: the target answers labels only, so top_k, round and temperature do not apply")
            return "labels"
        if self.labels_only:
            return "labels"
        if kind == "logits" and self.top_k is None and self.round is None:
            return "logits"
        return "probabilities"

    def apply(self, outputs: np.ndarray, kind: str) -> tuple[np.ndarray, str]:
        """Defend one batch: ``outputs`` of ``kind`` (``(n, C)``, or ``(n,)`` labels) → ``(defended outputs, their kind)``."""
        new_kind = self.output_kind(kind)
        if kind == "labels":
            return np.asarray(outputs), "labels"
        outputs = np.asarray(outputs, dtype=np.float64)
        if self.top_k is not None and self.top_k > outputs.shape[1]:
            raise ConfigError(f"output_defence.top_k = {self.top_k} but the target answers {outputs.shape[1]} classes; use top_k ≤ {outputs.shape[1]}")
        if self.labels_only:
            return np.argmax(outputs, axis=1), "labels"  # argmax of logits = argmax of probabilities
        if new_kind == "logits":
            return outputs / float(self.temperature), "logits"
        log_probs = _log_probabilities(outputs, kind)
        if self.temperature is not None:
            log_probs = log_probs / float(self.temperature)
        probabilities = _softmax_of_log(log_probs)
        if self.top_k is not None:
            probabilities = keep_top_k(probabilities, int(self.top_k))
        if self.round is not None:
            probabilities = round_probabilities(probabilities, int(self.round))
        return probabilities, "probabilities"

    def describe(self) -> dict:
        """The settings that are on, e.g. ``{"top_k": 1, "round": 2}``."""
        values = {"top_k": self.top_k, "round": self.round, "temperature": self.temperature}
        return {"labels_only": True} if self.labels_only else {k: v for k, v in values.items() if v is not None}


class OutputDefenceTarget:
    """Any target, its answers post-processed by an :class:`OutputDefence`.

    Parameters
    ----------
    target : Target
        Answers logits, probabilities or (for ``labels_only`` only) labels.
    defence : OutputDefence

    ``name`` is the wrapped target's; ``output_kind`` is what the defence
    makes of the target's (``"labels"`` with ``labels_only``).

    Example
    -------
    >>> import numpy as np, pandas as pd
    >>> from privaudit.data import RecordSet
    >>> from privaudit.targets import PrecomputedTarget
    >>> table = pd.DataFrame({"record_id": ["a", "b"], "no": [0.8, 0.35], "yes": [0.2, 0.65]})
    >>> inner = PrecomputedTarget(table, name="vendor")
    >>> records = RecordSet(np.array(["a", "b"]), pd.DataFrame(index=range(2)), np.array([0, 1]), ("no", "yes"))
    >>> target = OutputDefenceTarget(inner, OutputDefence(labels_only=True))
    >>> target.output_kind, target.predict(records).tolist()
    ('labels', [0, 1])
    """

    def __init__(self, target, defence: OutputDefence) -> None:
        if not isinstance(defence, OutputDefence):
            raise ConfigError(f"target '{target.name}': defence must be an OutputDefence, not {type(defence).__name__}")
        self.target = target
        self.defence = defence
        self.name = target.name
        self.output_kind = defence.output_kind(target.output_kind)
        source = getattr(target, "source", None)
        if isinstance(source, str):
            self.source = source

    @property
    def answers_new_records(self) -> bool:
        """Whether the wrapped target can answer records it has not seen (see :func:`privaudit.query_signals.answers_new_records`)."""
        return bool(getattr(self.target, "answers_new_records", True))

    def predict(self, records) -> np.ndarray:
        try:
            outputs, _ = self.defence.apply(self.target.predict(records), self.target.output_kind)
        except ConfigError as exc:
            raise ConfigError(f"target '{self.name}': {exc}") from None
        return check_outputs(outputs, records, self)


def defend(target, spec: dict | None):
    """``target`` wrapped in the defence a config's ``output_defence`` mapping describes (``target`` itself for None)."""
    if not spec:
        return target
    try:
        defence = OutputDefence(**spec)
    except TypeError:
        unknown = sorted(set(spec) - {"top_k", "round", "temperature", "labels_only"})
        raise ConfigError(f"target '{target.name}': unknown output_defence key(s) {', '.join(unknown)}; allowed: top_k, round, temperature, labels_only") from None
    try:
        return OutputDefenceTarget(target, defence)
    except CapabilityError as exc:
        raise CapabilityError(f"target '{target.name}': {exc}") from None
