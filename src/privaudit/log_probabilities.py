"""Model outputs as log-probabilities: the one conversion every signal, defence and server starts from.

:func:`to_log_probabilities` validates a model's logits or probabilities
(shape ``(n_records, n_classes)``) and returns natural-log probabilities of the
same shape; :func:`stable_log_softmax` is its exact log-softmax for logits.
Both are re-exported by :mod:`privaudit.signals`. They sit below targets and
signals so that a target (an output defence) can use them without importing
the signals stage.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from privaudit.exceptions import CapabilityError, DataError

__all__ = ["OutputKind", "PROBABILITY_SUM_TOLERANCE", "stable_log_softmax", "to_log_probabilities"]

OutputKind = Literal["logits", "probabilities", "labels"]

#: Row sums of a probability matrix may differ from 1 by at most this much.
PROBABILITY_SUM_TOLERANCE = 1e-3


def stable_log_softmax(logits: np.ndarray) -> np.ndarray:
    """log-softmax along axis 1 that stays exact for very confident rows.

    The usual ``z − max − log Σ exp(z − max)`` rounds ``log(1 + ε)`` to 0 once
    the runner-up is ~37 nats behind, so every confident record gets loss 0
    exactly and thousands tie. Here the sum over the non-maximal classes ε is
    formed first and ``log1p(ε)`` is used, so the top class's log-probability
    is −log1p(ε) ≈ −ε down to ε ≈ 1e-308.
    """
    logits = np.asarray(logits, dtype=np.float64)
    rows = np.arange(logits.shape[0])
    top = np.argmax(logits, axis=1)
    shifted = logits - logits[rows, top][:, None]
    others = np.exp(shifted)
    others[rows, top] = 0.0
    return shifted - np.log1p(others.sum(axis=1))[:, None]


def to_log_probabilities(values: np.ndarray, kind: OutputKind, *, source: str = "model outputs", row_ids=None) -> np.ndarray:
    """Validate a model's outputs and return log-probabilities, shape ``(n, C)``.

    Parameters
    ----------
    values : array, shape (n, C)
        Logits or probabilities.
    kind : {"logits", "probabilities"}
        What ``values`` holds. Logits go through a stable log-softmax.
        Probabilities must lie in [0, 1] with rows summing to 1 (within
        ``PROBABILITY_SUM_TOLERANCE``); they are renormalised and zeros map to
        ``-inf`` log-probability, which the signals below handle.
    source : str
        Named in error messages (a file or target name).
    row_ids : array, optional
        Record ids of the rows, named in error messages instead of row numbers.
    """
    values = np.asarray(values, dtype=np.float64)
    row = (lambda i: f"record {row_ids[i]}") if row_ids is not None else (lambda i: f"row {i}")
    if values.ndim != 2 or values.shape[1] < 2:
        raise DataError(f"{source}: expected a 2-D array (records × classes, at least 2 classes), got shape {values.shape}")
    if not np.all(np.isfinite(values)):
        bad = int(np.flatnonzero(~np.isfinite(values).all(axis=1))[0])
        raise DataError(f"{source}: {row(bad)} has NaN or infinite {kind}; every output must be a finite number")
    if kind == "logits":
        return stable_log_softmax(values)
    if kind != "probabilities":
        raise CapabilityError(f"{source}: outputs of kind '{kind}' carry no probabilities")
    if values.min() < 0 or values.max() > 1:
        raise DataError(f"{source}: probabilities must lie in [0, 1]; found values from {values.min():.4g} to {values.max():.4g}")
    sums = values.sum(axis=1)
    off = np.abs(sums - 1.0) > PROBABILITY_SUM_TOLERANCE
    if off.any():
        first = int(np.flatnonzero(off)[0])
        raise DataError(
            f"{source}: {int(off.sum())} probability row(s) do not sum to 1 ({row(first)} sums to {sums[first]:.6g}); "
            "if these are unnormalised scores or logits, declare outputs: logits"
        )
    return _log_normalised(values / sums[:, None])


def _log_normalised(p: np.ndarray) -> np.ndarray:
    """log of probability rows, with the top class's log-probability taken as log1p(−Σ others).

    A served model's confident answer such as ``[1.0, 1e-20]`` has p_top = 1.0
    in float64, so log p_top = 0 and every such record would tie at loss 0;
    log1p(−1e-20) = −1e-20 keeps what the small probabilities say. Used where
    p_top > 0.5, i.e. where 1 − p_top can lose digits.
    """
    with np.errstate(divide="ignore"):
        log_p = np.log(p)
    rows = np.arange(p.shape[0])
    top = np.argmax(p, axis=1)
    confident = p[rows, top] > 0.5
    if confident.any():
        others = p[confident].copy()
        others[np.arange(others.shape[0]), top[confident]] = 0.0
        log_p[rows[confident], top[confident]] = np.log1p(-others.sum(axis=1))
    return log_p
