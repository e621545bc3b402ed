"""Precomputed outputs: audit a vendor's model from a file of its per-record outputs alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from privaudit.data import read_table
from privaudit.exceptions import CapabilityError, DataError
from privaudit.targets.base import TARGET_LOADERS, check_outputs


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
        Output columns in data-class order. Default: columns named after the
        classes if all exist, else every other column in file order. For
        ``labels``, one column of predicted class values.
    source : str
        File name for error messages.

    It answers only for the records in its table, so it cannot be asked about
    perturbed copies (``answers_new_records = False``; label-only query attacks refuse it).
    """

    answers_new_records = False

    def __init__(self, table, *, name: str = "precomputed", output_kind: str = "probabilities", id_column: str = "record_id", columns=None, source: str = "<table>") -> None:
        if output_kind not in ("probabilities", "logits", "labels"):
            raise CapabilityError(f"target '{name}': outputs must be probabilities, logits or labels, not '{output_kind}'")
        if id_column not in table.columns:
            raise DataError(f"{source}: id column '{id_column}' not found; columns are: {', '.join(map(str, table.columns))}")
        ids = table[id_column].astype(str)
        if ids.duplicated().any():
            raise DataError(f"{source}: id column '{id_column}' has duplicate ids (e.g. '{ids[ids.duplicated()].iloc[0]}')")
        self.table = table.set_index(ids)
        self.name = name
        self.output_kind = output_kind
        self.id_column = id_column
        self.columns = list(columns) if columns else None
        self.source = source

    def _output_columns(self, classes) -> list:
        if self.columns is not None:
            absent = [c for c in self.columns if c not in self.table.columns]
            if absent:
                raise DataError(f"{self.source}: output columns {absent} not found")
            return self.columns
        others = [c for c in self.table.columns if c != self.id_column]
        if self.output_kind == "labels":
            return others[:1]
        named = [str(c) for c in classes]
        by_name = {str(c): c for c in others}
        if all(n in by_name for n in named):
            return [by_name[n] for n in named]
        return others

    def predict(self, records) -> np.ndarray:
        missing = ~np.isin(records.ids, self.table.index.to_numpy())
        if missing.any():
            raise DataError(f"{self.source}: no outputs for {int(missing.sum())} audited records (e.g. id {records.ids[missing][0]}); the file must cover every member, non-member and population record")
        rows = self.table.loc[records.ids, self._output_columns(records.classes)]
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


@TARGET_LOADERS.register("precomputed")
def load_precomputed_target(spec: dict, base_dir: Path, name: str) -> PrecomputedTarget:
    """Config: ``{type: precomputed, path: outputs.csv, outputs: probabilities|logits|labels, id_column: record_id, columns: [...]}``."""
    path = base_dir / spec["path"]
    return PrecomputedTarget(read_table(path), name=name, output_kind=spec.get("outputs") or "probabilities", id_column=spec.get("id_column") or "record_id", columns=spec.get("columns"), source=str(path))
