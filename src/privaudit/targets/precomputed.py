"""Precomputed outputs: audit a vendor's model from a file of its per-record outputs alone."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import Field, field_validator

from privaudit.data_files import id_near_miss, read_table, record_ids
from privaudit.exceptions import CapabilityError, ConfigError, DataError
from privaudit.targets.base import check_outputs
from privaudit.targets.config_base import ClassifierTargetConfig, refuse_boolean_class_names
from privaudit.targets.types import register_target_type

__all__ = ["PrecomputedTarget", "PrecomputedTargetConfig", "load_precomputed_target"]


class PrecomputedTargetConfig(ClassifierTargetConfig):
    """``{type: precomputed, path: outputs.csv, outputs: probabilities|logits|labels, id_column: record_id, columns: [...]}``.

    ``path``: a CSV/Parquet table, one row per record id. ``id_column`` (default
    ``record_id``): its record-id column. ``columns``: the output columns in the
    data's class order (default: one column named after each class; for
    ``labels``, the one predicted-label column). It cannot be retrained: reference
    models need ``reference.estimator``, or their outputs from elsewhere in ``reference.outputs``
    (:mod:`privaudit.reference.precomputed`).
    """

    type: Literal["precomputed"]
    path: str
    outputs: Literal["probabilities", "logits", "labels"] | None = None
    id_column: str | None = Field(default=None, min_length=1)
    columns: list[str] | None = Field(default=None, min_length=1)

    reads_features: ClassVar[bool] = False

    @field_validator("columns", mode="before")
    @classmethod
    def _column_names_as_text(cls, value):
        """YAML booleans are refused (quote your class names); whole numbers (columns named 0, 1) are read as their text."""
        value = refuse_boolean_class_names(value)
        if isinstance(value, list):
            return [str(v) if isinstance(v, int) else v for v in value]
        return value


class PrecomputedTarget:
    """Answers from a table: one row per record id, one column per class (or one label column).

    Parameters
    ----------
    table : DataFrame
        Holds ``id_column`` and the output columns.
    name : str
    output_kind : {"probabilities", "logits", "labels"}
    id_column : str
    columns : list of str, optional
        Output columns in data-class order. Default: one column named exactly
        after each class (``str(class)``, case-sensitive; other columns are
        ignored); the file's column order is never used to guess which column
        is which class — a class without its column is an error naming the
        unmatched columns and classes. For ``labels``, one column of predicted
        class values (default: the only column besides the id column).
    source : str
        File name for error messages.

    It answers only for the records in its table, so it cannot be asked about
    perturbed copies (``answers_new_records = False``; label-only query attacks refuse it).
    """

    answers_new_records = False

    def __init__(self, table, *, name: str = "precomputed", output_kind: str = "probabilities", id_column: str = "record_id", columns=None, source: str = "<table>") -> None:
        if output_kind not in ("probabilities", "logits", "labels"):
            raise CapabilityError(f"target '{name}': outputs must be probabilities, logits or labels, not '{output_kind}'")
        field = f"targets.{name}"
        if not isinstance(id_column, str) or not id_column:
            raise ConfigError(f"{field}.id_column: give the name of the record-id column of {source} as text, not {id_column!r}")
        if id_column not in table.columns:
            raise DataError(f"{source}: id column '{id_column}' not found (set {field}.id_column); columns are: {', '.join(map(str, table.columns))}")
        if columns is not None:
            if isinstance(columns, str) or not all(isinstance(c, str) and c for c in columns) or not len(columns):
                raise ConfigError(f"{field}.columns: give a list of output column names in data-class order, not {columns!r}")
            if len(set(columns)) != len(columns) or id_column in columns:
                raise ConfigError(f"{field}.columns: {list(columns)} lists a column twice or the id column '{id_column}'; list each output column once")
        ids = record_ids(table[id_column], source=source, column_name=id_column)
        self.table = table.set_index(pd.Index(ids))
        self.name = name
        self.output_kind = output_kind
        self.id_column = id_column
        self.columns = list(columns) if columns is not None else None
        self.source = source

    def _output_columns(self, classes) -> list:
        field = f"targets.{self.name}.columns"
        by_name = {str(c): c for c in self.table.columns if str(c) != self.id_column}
        if self.columns is not None:
            absent = [c for c in self.columns if c not in by_name]
            if absent:
                raise DataError(f"{self.source}: output columns {absent} not found (listed under {field}); columns are: {', '.join(by_name)}")
            return [by_name[c] for c in self.columns]
        if self.output_kind == "labels":
            if len(by_name) != 1:
                raise DataError(f"{self.source}: {len(by_name)} columns besides '{self.id_column}' ({', '.join(list(by_name)[:5])}); name the predicted-label column under {field}")
            return list(by_name.values())
        named = [str(c) for c in classes]
        unmatched_classes = [n for n in named if n not in by_name]
        if unmatched_classes:
            unmatched_columns = [c for c in by_name if c not in named]
            raise DataError(
                f"{self.source}: output columns do not match the classes: no column named exactly after class{'es' if len(unmatched_classes) > 1 else ''} {unmatched_classes} "
                f"(unmatched columns: {unmatched_columns}); name one column per class exactly (case-sensitive) or list the columns in class order under {field}"
            )
        return [by_name[n] for n in named]

    def predict(self, records) -> np.ndarray:
        positions = self.table.index.get_indexer(records.ids)  # hashed lookup: O(n), where isin on text ids is quadratic
        missing = positions < 0
        if missing.any():
            hint = id_near_miss(records.ids[missing], self.table.index)
            raise DataError(f"{self.source}: no outputs for {int(missing.sum())} audited records (e.g. id {records.ids[missing][0]}){hint}; "
                            "the file must cover every member, non-member and population record")
        rows = self.table[self._output_columns(records.classes)].iloc[positions]
        if self.output_kind == "labels":
            inverse = {str(c): i for i, c in enumerate(records.classes)}
            values = rows.iloc[:, 0].astype(str)
            unknown = ~values.isin(list(inverse))
            if unknown.any():
                raise DataError(f"{self.source}: predicted labels {sorted(values[unknown].unique())[:5]} are not classes of the data {list(records.classes)}")
            return check_outputs(values.map(inverse).to_numpy(), records, self)
        try:
            outputs = rows.to_numpy(dtype=np.float64)
        except ValueError:
            raise DataError(f"{self.source}: output columns must be numeric") from None
        if outputs.shape[1] != len(records.classes):
            raise DataError(f"{self.source}: {outputs.shape[1]} output columns for {len(records.classes)} classes {list(records.classes)}; name columns after the classes or list them under columns")
        return check_outputs(outputs, records, self)


@register_target_type(PrecomputedTargetConfig)
def load_precomputed_target(spec: dict, base_dir: Path, name: str) -> PrecomputedTarget:
    """Config: ``{type: precomputed, path: outputs.csv, outputs: probabilities|logits|labels, id_column: record_id, columns: [...]}``."""
    path = base_dir / spec["path"]
    id_column = spec.get("id_column") or "record_id"
    table = read_table(path, text_columns=[id_column] if isinstance(id_column, str) else ())
    return PrecomputedTarget(table, name=name, output_kind=spec.get("outputs") or "probabilities", id_column=id_column, columns=spec.get("columns"), source=str(path))
