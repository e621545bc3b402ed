"""What a record check reads: the config's data, target and reference plan (:func:`check_inputs`), and the
records to check, from a table or from ``key=value`` strings, typed like the audit data's columns.

Used by :mod:`privaudit.record_check` (``privaudit check --records`` / ``--record``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from privaudit.data import AuditData, RecordSet
from privaudit.exceptions import CapabilityError, ConfigError, DataError

__all__ = ["CheckInputs", "check_inputs", "records_from_frame", "records_from_pairs"]


def _coerce(values: pd.Series, reference: pd.Series, column: str, where: str) -> pd.Series:
    """Convert ``values`` to the dtype of the data's ``reference`` column, with a one-line error naming it."""
    dtype = reference.dtype
    try:
        if pd.api.types.is_bool_dtype(dtype):
            mapped = values.astype(str).str.strip().str.lower().map({"true": True, "1": True, "false": False, "0": False})
            if mapped.isna().any():
                raise ValueError
            return mapped.astype(bool)
        if pd.api.types.is_integer_dtype(dtype):
            numbers = pd.to_numeric(values, errors="raise")
            if not np.all(np.asarray(numbers, dtype=float) == np.round(np.asarray(numbers, dtype=float))):
                raise ValueError
            return numbers.astype(dtype)
        if pd.api.types.is_numeric_dtype(dtype):
            return pd.to_numeric(values, errors="raise").astype(dtype)
    except (ValueError, TypeError):
        bad = values.iloc[0] if len(values) == 1 else values.astype(str).iloc[0]
        kind = "true/false" if pd.api.types.is_bool_dtype(dtype) else ("an integer" if pd.api.types.is_integer_dtype(dtype) else "a number")
        raise DataError(f"{where}: column '{column}' needs {kind} (as in the data, {dtype}), got '{bad}'") from None
    text = values.astype(str).str.strip()
    known = set(reference.astype(str).unique())
    unseen = sorted(set(text) - known)
    if unseen:
        examples = ", ".join(sorted(known)[:8])
        raise DataError(f"{where}: column '{column}' has value '{unseen[0]}', which never appears in the data; known values: {examples}")
    if isinstance(dtype, pd.CategoricalDtype):
        return text.astype(dtype)
    return text.astype(reference.dtype) if reference.dtype == object else text


def records_from_frame(frame: pd.DataFrame, data: AuditData, *, label: str, id_column: str | None = None, source: str = "records") -> RecordSet:
    """Records to check, from a table with the data's feature columns and label column.

    Values are converted to the dtypes of the data's columns; other columns are
    ignored. Ids come from ``id_column`` when the table has it, else
    ``record-1``, ``record-2``, ...
    """
    reference = data.records.features
    missing = [c for c in reference.columns if c not in frame.columns]
    if missing:
        raise DataError(f"{source}: missing feature column(s) {', '.join(missing)}; every record needs all features the target uses")
    if label not in frame.columns:
        raise DataError(f"{source}: missing the label column '{label}'; the loss of a record needs its true label")
    if len(frame) == 0:
        raise DataError(f"{source}: no records to check")
    features = pd.DataFrame({c: _coerce(frame[c].reset_index(drop=True), reference[c], c, source) for c in reference.columns})
    if data.records.image_shape is not None:  # the audit's images were refused with NaN or infinite pixels: so are these
        bad = ~np.isfinite(features.to_numpy(np.float64))
        if bad.any():
            row, column = np.argwhere(bad)[0]
            raise DataError(f"{source}: {int(bad.any(axis=1).sum())} records have NaN or infinite pixels (first: row {row + 1}, column "
                            f"'{features.columns[column]}'); give every pixel a number")
    by_text = {str(c): i for i, c in enumerate(data.records.classes)}
    raw = frame[label].astype(str).str.strip()
    unknown = sorted(set(raw) - set(by_text))
    if unknown:
        raise DataError(f"{source}: label '{label}' has value '{unknown[0]}', not a class of the data; classes: {', '.join(by_text)}")
    labels = raw.map(by_text).to_numpy(dtype=np.intp)
    if id_column is not None and id_column in frame.columns:
        ids = frame[id_column].astype(str).to_numpy()
    else:
        ids = np.array([f"record-{i + 1}" for i in range(len(frame))])
    return RecordSet(ids, features, labels, data.records.classes, data.records.image_shape)  # image records stay images


def records_from_pairs(pairs: Sequence[str], data: AuditData, *, label: str, id_column: str | None = None) -> RecordSet:
    """One record from ``key=value`` strings (the CLI's ``--record``), typed like the data's columns."""
    allowed = list(data.records.features.columns) + [label] + ([id_column] if id_column else [])
    values: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise DataError(f"--record '{pair}': write each field as key=value, e.g. {allowed[0]}=...")
        if key not in allowed:
            raise DataError(f"--record: unknown column '{key}'; known columns: {', '.join(allowed)}")
        if key in values:
            raise DataError(f"--record: column '{key}' given twice")
        values[key] = value.strip()
    missing = [c for c in allowed if c not in values and c != id_column]
    if missing:
        raise DataError(f"--record: missing {', '.join(missing)}; give each as key=value (all features and the label '{label}')")
    frame = pd.DataFrame({k: [v] for k, v in values.items()})
    return records_from_frame(frame, data, label=label, id_column=id_column, source="--record")


@dataclass(frozen=True)
class CheckInputs:
    """What a config provides to a record check: the data, one loaded target, its reference plan (or None), the label name."""

    data: AuditData
    target: object
    reference: object
    label: str


def check_inputs(config, base_dir: str | Path, target_name: str | None = None) -> CheckInputs:
    """Load the data, the target and its reference plan that a validated config names (:func:`privaudit.pipeline.load_inputs`)."""
    names = [t.name for t in config.targets]
    if target_name is None:
        if len(names) > 1:
            raise ConfigError(f"the config has {len(names)} targets ({', '.join(names)}); choose one with --target")
        target_name = names[0]
    if target_name not in names:
        raise ConfigError(f"no target '{target_name}' in the config; targets: {', '.join(names)}")
    spec = next(t for t in config.targets if t.name == target_name)
    if not spec.reads_features:
        raise CapabilityError(f"target '{target_name}' ({spec.type}) cannot answer for new records; check needs a model that reads record features (sklearn, torch or http)")
    from privaudit.pipeline import load_inputs

    inputs = load_inputs(config, base_dir, target_names=[target_name], groups=False)
    return CheckInputs(inputs.data, inputs.targets[0], inputs.plans.get(target_name), config.data.label)
