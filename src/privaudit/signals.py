"""Signals: pure functions from a model's outputs to one number per record.

Every function takes ``log_probs`` of shape ``(n_records, n_classes)`` (natural
log of the predicted class probabilities) and integer ``labels`` of shape
``(n_records,)``, and returns a float64 array of shape ``(n_records,)``.
Working in log space keeps the maths exact where a model is very sure:
``p → 1`` (a memorised record) and ``p → 0`` (a record the model gets badly
wrong) are precisely where membership shows.

Each registered signal declares ``member_direction``: ``+1`` if members tend to
have *higher* values (confidence), ``-1`` if *lower* (loss, entropy). Attacks
multiply by it, so their scores are always "higher = more likely a member".

``compute_signals`` is the only place in privaudit that calls a target with
the records themselves; its one sibling,
:func:`privaudit.query_signals.compute_query_signals`, asks about perturbed
copies of them for the label-only attacks.

Example
-------
>>> import numpy as np
>>> from privaudit.signals import to_log_probabilities, cross_entropy_loss
>>> lp = to_log_probabilities(np.array([[0.9, 0.1]]), "probabilities")
>>> cross_entropy_loss(lp, np.array([0])).round(4)
array([0.1054])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal

import numpy as np
from scipy.special import logsumexp

from privaudit.exceptions import CapabilityError, DataError
from privaudit.log_probabilities import OutputKind, stable_log_softmax, to_log_probabilities
from privaudit.registry import Registry
from privaudit.progress import track
from privaudit.targets.base import query_target

__all__ = [
    "Signal",
    "SIGNALS",
    "to_log_probabilities",
    "stable_log_softmax",
    "cross_entropy_loss",
    "true_class_confidence",
    "logit_scaled_confidence",
    "entropy",
    "modified_entropy",
    "correctness",
    "compute_signals",
]

def _check_labels(log_probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.shape != (log_probs.shape[0],):
        raise DataError(f"labels have shape {labels.shape}, expected ({log_probs.shape[0]},)")
    if labels.size and (labels.min() < 0 or labels.max() >= log_probs.shape[1]):
        raise DataError(f"labels must be class indices in [0, {log_probs.shape[1] - 1}]")
    return labels.astype(np.intp, copy=False)


def _true_class(log_probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    labels = _check_labels(log_probs, labels)
    return log_probs[np.arange(log_probs.shape[0]), labels]


def _log_other_classes(log_probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """log Σ_{j≠y} p_j, computed without forming 1 − p_y (exact as p_y → 1)."""
    labels = _check_labels(log_probs, labels)
    masked = log_probs.copy()
    masked[np.arange(masked.shape[0]), labels] = -np.inf
    with np.errstate(divide="ignore"):
        return logsumexp(masked, axis=1)


# Finite stand-in for log(0): the smallest positive double's log (≈ −708.4).
_LOG_TINY = float(np.log(np.finfo(np.float64).tiny))
# Stand-in for log(0) below the log of every positive double (≈ −744.4).
_LOG_ZERO = float(np.log(np.nextafter(0.0, 1.0)))


def cross_entropy_loss(log_probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Cross-entropy loss −log p_y (nats). Members: lower. p_y = 0 gives −log(tiny) ≈ 708."""
    return -np.maximum(_true_class(log_probs, labels), _LOG_TINY)


def true_class_confidence(log_probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Probability of the true class p_y in [0, 1]. Members: higher."""
    return np.exp(_true_class(log_probs, labels))


def logit_scaled_confidence(log_probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """φ = log p_y − log(1 − p_y) (Carlini et al. 2022, LiRA), members: higher.

    1 − p_y is computed as Σ_{j≠y} p_j in log space, so φ stays finite and equals
    the exact logit margin when logits are given (logits [800, 0] → 800): no
    finite log is clipped, since the most confident records are where the
    low-FPR end of the ROC is decided. Only exact zeros (log = −inf) are
    replaced, by the log of the smallest subnormal double (≈ −744.4, below the
    log of any positive probability), so exact 0/1 probabilities give ±744.4.
    """
    log_py = _true_class(log_probs, labels)
    # log(1 − p_y) = log(−expm1(log p_y)) is exact while log p_y is a normal
    # negative double; rows where p_y rounds to 1 (|log p_y| < 1e-300) sum the
    # other classes instead, which keeps φ equal to the logit margin there.
    with np.errstate(divide="ignore"):
        log_rest = np.log(-np.expm1(log_py))
    near_one = log_py > -1e-300
    if near_one.any():
        log_rest[near_one] = _log_other_classes(log_probs[near_one], np.asarray(labels)[near_one])
    log_py = np.where(np.isneginf(log_py), _LOG_ZERO, log_py)
    log_rest = np.where(np.isneginf(log_rest), _LOG_ZERO, log_rest)
    return log_py - log_rest


def _xlogy_exp(log_p: np.ndarray) -> np.ndarray:
    """p·log p from log p, with 0·log 0 = 0."""
    out = np.zeros_like(log_p)
    finite = np.isfinite(log_p)
    out[finite] = np.exp(log_p[finite]) * log_p[finite]
    return out


def entropy(log_probs: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
    """Shannon entropy −Σ p_j log p_j of the prediction (nats). Members: lower.

    The value does not depend on ``labels``, but labels that do not fit
    ``log_probs`` are refused like in every other signal.
    """
    if labels is not None:
        _check_labels(log_probs, labels)
    return -_xlogy_exp(log_probs).sum(axis=1)


def _log1m_exp(log_p: np.ndarray) -> np.ndarray:
    """log(1 − p) from log p, accurate for p near 0 and near 1 (clipped at log(tiny))."""
    with np.errstate(divide="ignore"):
        out = np.where(log_p > -0.6931, np.log(-np.expm1(log_p)), np.log1p(-np.exp(log_p)))
    return np.maximum(out, _LOG_TINY)


def modified_entropy(log_probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Modified entropy of Song & Mittal (2021), eq. 7. Members: lower.

    Mentr(p, y) = −(1 − p_y) log p_y − Σ_{i≠y} p_i log(1 − p_i).
    It is 0 for a perfect correct prediction and grows without bound for a
    confident wrong one, unlike plain entropy. log p_y is clipped at log(tiny).
    """
    labels = _check_labels(log_probs, labels)
    rows = np.arange(log_probs.shape[0])
    log_py = np.maximum(log_probs[rows, labels], _LOG_TINY)
    one_minus_py = -np.expm1(log_py)
    first = -one_minus_py * log_py
    terms = np.exp(log_probs) * _log1m_exp(log_probs)
    terms[rows, labels] = 0.0
    return first - terms.sum(axis=1)


def correctness(predicted_labels: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """1.0 where the predicted label equals the true label, else 0.0 (Yeom et al. 2018 gap attack). Members: higher.

    Works on label-only targets: takes predicted labels, shape (n,), not log-probabilities.
    """
    predicted_labels = np.asarray(predicted_labels)
    labels = np.asarray(labels)
    if predicted_labels.shape != labels.shape:
        raise DataError(f"predicted labels have shape {predicted_labels.shape}, labels {labels.shape}")
    return (predicted_labels == labels).astype(np.float64)


@dataclass(frozen=True)
class Signal:
    """A registered signal.

    Attributes
    ----------
    name : str
    function : callable
        ``function(log_probs, labels) -> (n,)``; for ``needs == "labels"``,
        ``function(predicted_labels, labels)``.
    member_direction : {+1, -1}
        +1 if members tend to score higher on this signal, −1 if lower.
    needs : {"probabilities", "labels"}
        The least a target must expose for this signal.
    description : str
    """

    name: str
    function: Callable[..., np.ndarray]
    member_direction: int
    needs: Literal["probabilities", "labels"]
    description: str


SIGNALS: Registry[Signal] = Registry("signal")


def _register(name, function, member_direction, needs, description):
    SIGNALS.register(name)(Signal(name, function, member_direction, needs, description))


_register("loss", cross_entropy_loss, -1, "probabilities", "cross-entropy loss −log p_y")
_register("confidence", true_class_confidence, +1, "probabilities", "true-class probability p_y")
_register("logit_confidence", logit_scaled_confidence, +1, "probabilities", "logit-scaled confidence log p_y − log(1 − p_y)")
_register("entropy", entropy, -1, "probabilities", "prediction entropy")
_register("modified_entropy", modified_entropy, -1, "probabilities", "modified entropy (Song & Mittal 2021)")
_register("correctness", correctness, +1, "labels", "1 if the predicted label is right (label-only)")


def signals_from_outputs(outputs: np.ndarray, kind: OutputKind, labels: np.ndarray, names: list[str], *, source: str, row_ids=None) -> dict[str, np.ndarray]:
    """Compute the named signals from one batch of a target's outputs (pure; no model call)."""
    labels = np.asarray(labels)
    result: dict[str, np.ndarray] = {}
    log_probs = None
    for name in names:
        signal = SIGNALS.get(name)
        if kind == "labels":
            if signal.needs != "labels":
                raise CapabilityError(
                    f"signal '{name}' needs probabilities or logits, but target '{source}' gives only labels; "
                    "use the 'correctness' signal, or the label-only attacks label_only_augmentation and label_only_boundary, for label-only targets"
                )
            result[name] = signal.function(np.asarray(outputs).reshape(-1), labels)
            continue
        if log_probs is None:
            log_probs = to_log_probabilities(outputs, kind, source=source, row_ids=row_ids)
        if signal.needs == "labels":
            result[name] = signal.function(np.argmax(log_probs, axis=1), labels)
        else:
            result[name] = signal.function(log_probs, labels)
    return result


def compute_signals(target, records, names: list[str], *, progress: Callable[[str], None] | None = None, description: str | None = None) -> dict[str, np.ndarray]:
    """Query ``target`` once on ``records`` and compute the named signals.

    Parameters
    ----------
    target : privaudit.targets.Target
        Anything with ``output_kind`` and ``predict(records)``.
    records : privaudit.data.RecordSet
        Records to query, with integer ``labels``.
    names : list of str
        Registered signal names.
    progress : callable, optional
        An entry point's ``say`` (:mod:`privaudit.progress`): the query is a counted step of
        ``len(records)`` records, moving per answered batch where the target reports batches
        (:func:`~privaudit.targets.base.query_target`).
    description : str, optional
        The step's name (default ``"querying <target>"``).

    Returns
    -------
    dict of str → array of shape (n_records,)
    """
    if progress is None:
        outputs = target.predict(records)
    else:
        with track(progress, description or f"querying {target.name}", len(records), "records") as advance:
            outputs = query_target(target, records, advance)
    source = f"target '{target.name}'" + (f" ({target.source})" if isinstance(getattr(target, "source", None), str) else "")
    return signals_from_outputs(outputs, target.output_kind, records.labels, list(names), source=source, row_ids=getattr(records, "ids", None))
