"""Array-first entry: audit a model from numpy arrays of its outputs, no files, ids or targets to build.

Like TF Privacy's ``run_attacks``: pass the model's outputs on its training
records (members) and on records it never saw (non-members), each of shape
``(n, n_classes)``, with the integer true labels. The arrays become a
:class:`~privaudit.targets.PrecomputedTarget` over generated record ids and go
through the same :func:`privaudit.audit` as every other entry point.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from privaudit.pipeline.attack_choice import build_attacks
from privaudit.pipeline.audit_steps import audit
from privaudit.pipeline.result import AuditResult
from privaudit.data import AuditData, RecordSet
from privaudit.exceptions import CapabilityError, ConfigError, DataError
from privaudit.metrics import DEFAULT_DELTA, DEFAULT_FPRS
from privaudit.log_probabilities import PROBABILITY_SUM_TOLERANCE
from privaudit.targets import PrecomputedTarget

__all__ = ["audit_outputs", "ARRAY_SOURCE"]

#: ``AuditResult.data_source`` of an array audit (and the name its errors start with)
ARRAY_SOURCE = "audit_outputs"

#: record-id prefix of each role; ``scores.csv`` lists members as m0, m1, ..., non-members as n0, ..., population as p0, ...
ID_PREFIXES = {"members": "m", "nonmembers": "n", "population": "p"}


def _outputs(values, field: str, kind: str, n_classes: int | None) -> np.ndarray:
    """``values`` as a finite float array (n, n_classes); probabilities in [0, 1] summing to 1 per row."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(f"{ARRAY_SOURCE}: {field} must be numbers, an array of shape (n_records, n_classes)") from None
    if array.ndim != 2 or array.shape[0] == 0 or array.shape[1] < 2:
        raise DataError(f"{ARRAY_SOURCE}: {field} has shape {array.shape}; pass the model's outputs as (n_records, n_classes) with n_records ≥ 1 and n_classes ≥ 2")
    if n_classes is not None and array.shape[1] != n_classes:
        raise DataError(f"{ARRAY_SOURCE}: {field} has {array.shape[1]} columns but members has {n_classes}; every array needs one column per class, in the same order")
    finite = np.isfinite(array).all(axis=1)
    if not finite.all():
        row = int(np.flatnonzero(~finite)[0])
        raise DataError(f"{ARRAY_SOURCE}: {field} row {row} has NaN or infinite values ({int((~finite).sum())} rows in all); drop or fix those rows")
    if kind == "probabilities":
        if array.min() < 0 or array.max() > 1:
            raise DataError(f"{ARRAY_SOURCE}: {field} has values from {array.min():.4g} to {array.max():.4g}, outside [0, 1]; "
                            "for unnormalised scores pass kind='logits'")
        sums = array.sum(axis=1)
        off = np.abs(sums - 1.0) > PROBABILITY_SUM_TOLERANCE
        if off.any():
            row = int(np.flatnonzero(off)[0])
            raise DataError(f"{ARRAY_SOURCE}: {field} row {row} sums to {sums[row]:.6g}, not 1 ({int(off.sum())} rows); "
                            "for unnormalised scores pass kind='logits'")
    return array


def _labels(values, field: str, n_rows: int, outputs_field: str, n_classes: int) -> np.ndarray:
    """``values`` as int64 class indices in [0, n_classes), one per row of the outputs."""
    array = np.asarray(values)
    if array.ndim != 1 or array.shape[0] != n_rows:
        raise DataError(f"{ARRAY_SOURCE}: {field} has shape {array.shape} but {outputs_field} has {n_rows} rows; pass one integer class index per row")
    if array.dtype.kind not in "iub":
        as_float = np.asarray(array, dtype=np.float64) if array.dtype.kind == "f" else None
        if as_float is None or not np.all(np.isfinite(as_float)) or not np.all(as_float == np.round(as_float)):
            raise DataError(f"{ARRAY_SOURCE}: {field} must be integer class indices 0..{n_classes - 1} (dtype {array.dtype}); "
                            "map class names to column positions first")
    array = array.astype(np.int64)
    bad = (array < 0) | (array >= n_classes)
    if bad.any():
        raise DataError(f"{ARRAY_SOURCE}: {field} has {int(bad.sum())} labels outside 0..{n_classes - 1} (e.g. {int(array[bad][0])}); "
                        f"labels index the {n_classes} output columns")
    return array


def _check_array_attacks(attacks, has_population: bool) -> None:
    """Refuse attacks that arrays of outputs cannot serve, naming audit_outputs' arguments (not a config block)."""
    for attack in build_attacks(attacks):
        needs, name = attack.needs, attack.display_name
        if needs.reference:
            raise CapabilityError(f"{ARRAY_SOURCE}: attack '{name}' needs reference models, which audit_outputs cannot train from outputs "
                                  "alone; run privaudit.audit with a target and a reference plan, or use attacks that need none (loss, logit_confidence)")
        if needs.query_signals:
            raise CapabilityError(f"{ARRAY_SOURCE}: attack '{name}' queries the model on perturbed copies of records, which arrays of "
                                  "outputs cannot answer; use 'correctness' for a label-only audit")
        if needs.features:
            raise CapabilityError(f"{ARRAY_SOURCE}: attack '{name}' regresses each record's score on its features, which arrays of "
                                  "outputs do not carry; run privaudit.audit with the records and a target, or use classwise_threshold")
        if needs.any_population and not has_population:
            raise CapabilityError(f"{ARRAY_SOURCE}: attack '{name}' needs outputs on known non-members outside the audit; "
                                  "pass population= and labels_population=")


def audit_outputs(
    *,
    members,
    nonmembers,
    labels_members,
    labels_nonmembers,
    kind: str = "probabilities",
    population=None,
    labels_population=None,
    attacks: Sequence | None = None,
    classes: Sequence | None = None,
    name: str = "model",
    fprs: Sequence[float] = DEFAULT_FPRS,
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    delta: float = DEFAULT_DELTA,
    membership_randomized: bool = False,
) -> AuditResult:
    """Audit a model from arrays of its outputs on members and non-members.

    Parameters
    ----------
    members, nonmembers : array-like, shape (n_members, C) and (n_nonmembers, C)
        The model's outputs on records it trained on and on records it did
        not, one column per class (C ≥ 2).
    labels_members, labels_nonmembers : array-like of int, shape (n_members,) and (n_nonmembers,)
        True class of each record, an index 0..C-1 into the columns.
    kind : {"probabilities", "logits"}
        What the arrays hold: probabilities (each row in [0, 1], summing to
        1) or logits (any finite numbers; softmax gives probabilities).
    population, labels_population : array-like, optional
        Outputs and labels on further known non-members the attacker may use
        (shape (n_population, C) and (n_population,)). With them the default
        attacks add class-wise LOSS, as :func:`privaudit.audit` does.
    attacks : sequence of attack specs or objects, optional
        As for :func:`privaudit.audit`; default: every attack the
        outputs allow (:func:`privaudit.pipeline.default_attacks`).
    classes : sequence, optional
        Class names in column order, for the report (default 0..C-1).
    name : str
        The target's name in the result and report.
    fprs, n_bootstrap, confidence, seed, delta, membership_randomized
        As for :func:`privaudit.audit`.

    Returns
    -------
    AuditResult
        Records are ordered members then non-members; their ids are
        ``m0, m1, ...`` and ``n0, n1, ...`` (``result.record_ids``).
        Scores: higher = more likely a member.

    Raises
    ------
    DataError
        A shape, NaN/infinite value, probability row or label out of range,
        named by argument and row.
    ConfigError
        An unknown ``kind``, or population outputs without their labels.
    CapabilityError
        An attack the arrays cannot serve: one that needs reference models or
        perturbed-copy queries, or population outputs that were not given.
    """
    if kind not in ("probabilities", "logits"):
        raise ConfigError(f"{ARRAY_SOURCE}: kind must be 'probabilities' or 'logits', not {kind!r}")
    if (population is None) != (labels_population is None):
        raise ConfigError(f"{ARRAY_SOURCE}: pass population and labels_population together (got only {'population' if labels_population is None else 'labels_population'})")
    if attacks:
        _check_array_attacks(attacks, population is not None)
    parts = {"members": (members, labels_members), "nonmembers": (nonmembers, labels_nonmembers)}
    if population is not None:
        parts["population"] = (population, labels_population)
    outputs, labels, n_classes = {}, {}, None
    for role, (values, role_labels) in parts.items():
        outputs[role] = _outputs(values, role, kind, n_classes)
        n_classes = outputs[role].shape[1]
        labels[role] = _labels(role_labels, f"labels_{role}", outputs[role].shape[0], role, n_classes)
    class_values = tuple(range(n_classes)) if classes is None else tuple(classes)
    if len(class_values) != n_classes or len(set(map(str, class_values))) != n_classes:
        raise ConfigError(f"{ARRAY_SOURCE}: classes {list(class_values)} must name each of the {n_classes} output columns once, in column order")
    ids = np.concatenate([np.char.add(ID_PREFIXES[role], np.arange(len(labels[role])).astype(str)) for role in parts]).astype(str)
    all_labels = np.concatenate([labels[role] for role in parts])
    records = RecordSet(ids, pd.DataFrame(index=range(ids.size)), all_labels, class_values)
    sizes = np.cumsum([0] + [len(labels[role]) for role in parts])
    positions = {role: np.arange(sizes[i], sizes[i + 1]) for i, role in enumerate(parts)}
    data = AuditData(records, positions["members"], positions["nonmembers"], positions.get("population", np.arange(0)), source=ARRAY_SOURCE)
    columns = [str(c) for c in class_values]
    table = pd.DataFrame(np.concatenate([outputs[role] for role in parts]), columns=columns)
    table.insert(0, "record_id", ids)
    target = PrecomputedTarget(table, name=name, output_kind=kind, columns=columns, source=ARRAY_SOURCE)
    return audit(data, [target], attacks, fprs=fprs, n_bootstrap=n_bootstrap, confidence=confidence, seed=seed,
                 delta=delta, membership_randomized=membership_randomized)
