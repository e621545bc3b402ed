"""Records and membership sets: the first stage of every audit.

A :class:`RecordSet` holds records with stable ids, their feature table and
integer labels (class indices into ``classes``). :class:`AuditData` adds the
index sets that matter — members, non-members and population (records the
attacker may use, known not to be in training).

User data comes from CSV or Parquet: a label column, an optional record-id
column, and membership given either as a column or as index files (one
record id per line); reading files is :mod:`privaudit.data_files`.

Record ids are exact: read as text as written (``007`` is not ``7``, ``NA``
is an id), never stripped or case-folded. An id in an index file that matches
a data id only after stripping whitespace or ignoring case is an error naming
both; duplicate and empty ids are errors naming the first ones.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from privaudit.data_files import read_id_file, read_table, record_ids
from privaudit.exceptions import DataError
from privaudit.image_files import FOLDER_ID, is_image_source, read_image_table

__all__ = ["RecordSet", "AuditData", "concat_records", "read_table", "load_audit_data", "audit_data_from_frame", "MEMBERSHIP_VALUES"]

#: Accepted values in a membership column (case-insensitive), mapped to a role.
MEMBERSHIP_VALUES = {
    "member": "member", "in": "member", "1": "member", "1.0": "member", "true": "member", "train": "member",
    "nonmember": "nonmember", "non-member": "nonmember", "out": "nonmember", "0": "nonmember", "0.0": "nonmember",
    "false": "nonmember", "holdout": "nonmember", "test": "nonmember",
    "population": "population", "reference": "population",
    "": "unused", "none": "unused", "unused": "unused", "nan": "unused",
}


@dataclass(frozen=True)
class RecordSet:
    """Records a target can be queried on.

    Attributes
    ----------
    ids : ndarray of str, shape (n,)
        Stable record ids.
    features : DataFrame, n rows
        Feature columns as the target expects them (may have no columns for
        precomputed targets).
    labels : ndarray of int, shape (n,)
        Class index of each record into ``classes``.
    classes : tuple
        Class values in index order.
    image_shape : tuple of int, optional
        ``(channels, height, width)`` when each record is an image whose pixels
        are the feature columns in C-order (``features.to_numpy().reshape(n,
        *image_shape)``); None for tabular records. Image augmentations and
        image models read it.
    """

    ids: np.ndarray
    features: pd.DataFrame
    labels: np.ndarray
    classes: tuple
    image_shape: tuple | None = None

    def __len__(self) -> int:
        return int(self.ids.size)

    def subset(self, index: np.ndarray) -> "RecordSet":
        """Records at integer positions ``index``."""
        index = np.asarray(index)
        return RecordSet(self.ids[index], self.features.iloc[index].reset_index(drop=True), self.labels[index], self.classes, self.image_shape)


def concat_records(parts: Sequence[RecordSet]) -> RecordSet:
    """One :class:`RecordSet` of ``parts`` in order; they must share columns and classes."""
    parts = list(parts)
    if not parts:
        raise DataError("no record sets to concatenate")
    classes = parts[0].classes
    for part in parts[1:]:
        if tuple(map(str, part.classes)) != tuple(map(str, classes)):
            raise DataError(f"record sets have different classes: {list(classes)} and {list(part.classes)}")
        if list(part.features.columns) != list(parts[0].features.columns):
            raise DataError(f"record sets have different columns: {list(parts[0].features.columns)} and {list(part.features.columns)}")
        if part.image_shape != parts[0].image_shape:
            raise DataError(f"record sets have different image shapes: {parts[0].image_shape} and {part.image_shape}")
    features = pd.concat([p.features for p in parts], ignore_index=True)
    return RecordSet(np.concatenate([p.ids for p in parts]), features, np.concatenate([p.labels for p in parts]), classes, parts[0].image_shape)


@dataclass(frozen=True)
class AuditData:
    """All records plus integer positions of members, non-members and population."""

    records: RecordSet
    members: np.ndarray
    nonmembers: np.ndarray
    population: np.ndarray
    source: str = "<memory>"
    #: person id of each record (``data.person_column``), or None: membership is then per person (one role per person)
    person_ids: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.records)
        if self.person_ids is not None:
            check_person_roles(self, n)
        for role in ("members", "nonmembers", "population"):
            idx = getattr(self, role)
            if idx.size and (idx.min() < 0 or idx.max() >= n):
                raise DataError(f"{self.source}: {role} index out of range")
        for a, b in (("members", "nonmembers"), ("members", "population"), ("nonmembers", "population")):
            both = np.intersect1d(getattr(self, a), getattr(self, b))
            if both.size:
                ids = ", ".join(map(str, self.records.ids[both[:5]]))
                raise DataError(
                    f"{self.source}: {both.size} record{'s are' if both.size > 1 else ' is'} both {a} and {b} (e.g. {ids}); "
                    "each record may have one role only: fix the membership column or index files"
                )
        if self.members.size == 0 or self.nonmembers.size == 0:
            raise DataError(f"{self.source}: an audit needs at least one member and one non-member (have {self.members.size} and {self.nonmembers.size})")

    @property
    def audited(self) -> np.ndarray:
        """Positions of members then non-members."""
        return np.concatenate([self.members, self.nonmembers])

    @property
    def audited_is_member(self) -> np.ndarray:
        return np.r_[np.ones(self.members.size, bool), np.zeros(self.nonmembers.size, bool)]


def check_person_roles(data: "AuditData", n: int) -> None:
    """Refuse person ids of the wrong length, or a person whose records have different roles (membership is per person)."""
    if np.shape(data.person_ids) != (n,):
        raise DataError(f"{data.source}: {np.size(data.person_ids)} person ids for {n} records; give one person id per record")
    role = np.full(n, "unused", dtype=object)
    for name in ("members", "nonmembers", "population"):
        role[getattr(data, name)] = name[:-1] if name != "population" else "population"
    frame = pd.DataFrame({"person": np.asarray(data.person_ids).astype(str), "role": role})
    mixed = frame.groupby("person", sort=False)["role"].nunique()
    mixed = mixed[mixed > 1]
    if len(mixed):
        person = mixed.index[0]
        roles = sorted(frame.loc[frame["person"] == person, "role"].unique())
        raise DataError(f"{data.source}: person '{person}' has records with different roles ({', '.join(roles)}; {len(mixed)} such "
                        "person(s)); with data.person_column membership is per person: give all of a person's records one role")


def _nearly(value: str) -> str:
    return " ".join(value.split()).casefold()


def _positions(ids_wanted: Sequence[str], id_to_pos: dict[str, int], path, role: str) -> np.ndarray:
    """Positions of ``ids_wanted`` (exact matches only); errors name near misses and duplicates."""
    missing = [i for i in ids_wanted if i not in id_to_pos]
    if missing:
        near = {}
        for data_id in id_to_pos:
            near.setdefault(_nearly(data_id), data_id)
        for wanted in missing:
            match = near.get(_nearly(wanted))
            if match is not None:
                raise DataError(
                    f"{path}: {role} id {wanted!r} is not in the data, which has {str(match)!r} (differs only in whitespace or case); "
                    "ids must match the id column exactly: fix the file"
                )
        shown = ", ".join(repr(str(i)) for i in missing[:5])
        raise DataError(f"{path}: {len(missing)} {role} ids are not in the data (e.g. {shown}); ids must match the id column exactly")
    seen, dups = set(), []
    for i in ids_wanted:
        if i in seen and i not in dups:
            dups.append(i)
        seen.add(i)
    if dups:
        raise DataError(f"{path}: {role} file lists {len(dups)} ids more than once (e.g. {', '.join(repr(i) for i in dups[:5])}); list each id once")
    return np.fromiter((id_to_pos[i] for i in ids_wanted), dtype=np.intp, count=len(ids_wanted))


def check_feature_values(features: pd.DataFrame, source: str) -> None:
    """Refuse feature columns a model cannot take: missing values, or a numeric column with a few stray texts.

    A column counts as numeric with stray texts when at least 90 % of its
    non-missing values parse as numbers and some do not (``"n/a?"`` in a
    column of floats); an all-text column is left alone (categorical).
    Errors name the file, the column, the first offending rows (1-based,
    after the header) and the fix.
    """
    missing = features.isna()
    for column in features.columns:
        n_missing = int(missing[column].sum())
        if n_missing == len(features):
            raise DataError(f"{source}: feature column '{column}' is empty in every row; drop it from data.features or fill it")
    counts = missing.sum()
    bad = counts[counts > 0]
    if len(bad):
        detail = ", ".join(f"'{c}' ({n} rows)" for c, n in bad.items())
        raise DataError(f"{source}: missing values (NaN) in feature columns {detail}; fill or drop them before auditing")
    for column in features.columns:
        values = features[column]
        if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            continue
        numbers = pd.to_numeric(values, errors="coerce")
        stray = numbers.isna().to_numpy()
        if stray.any() and stray.mean() <= 0.1:
            rows = np.flatnonzero(stray)
            shown = ", ".join(f"{values.iloc[r]!r} in row {r + 1}" for r in rows[:3])
            raise DataError(
                f"{source}: feature column '{column}' is numeric except {rows.size} value{'s' if rows.size > 1 else ''} ({shown}); "
                "fix or drop those rows"
            )


def load_audit_data(
    path: str | Path,
    *,
    label: str,
    id_column: str | None = None,
    features: Sequence[str] | None = None,
    membership_column: str | None = None,
    members_file: str | Path | None = None,
    nonmembers_file: str | Path | None = None,
    population_file: str | Path | None = None,
    classes: Sequence | None = None,
    require_features: bool = True,
    person_column: str | None = None,
) -> AuditData:
    """Load records and membership sets from a table file (CSV or Parquet), or images (``.npz``, ``.npy``, a folder).

    Image and array sources are read by :func:`privaudit.image_files.read_image_table`
    (``label``, ``id_column`` and ``membership_column`` then name arrays); their
    records carry ``image_shape``.

    Membership comes either from ``membership_column`` (values listed in
    ``MEMBERSHIP_VALUES``) or from index files of record ids, one per line
    (row numbers when there is no id column). Errors name the file and
    column and say how to fix them. See :func:`audit_data_from_frame`.
    """
    path = Path(path)
    if (membership_column is None) == (members_file is None):
        raise DataError(f"{path}: give membership either as a column (membership.column) or as files (membership.members and membership.nonmembers), not both or neither")
    if members_file is not None and nonmembers_file is None:
        raise DataError(f"{path}: membership.members is given but membership.nonmembers is missing")
    image_shape = None
    if is_image_source(path):  # .npz / .npy / a folder of images: pixels become the feature columns
        if features is not None or person_column is not None:
            raise DataError(f"{path}: data.features and data.person_column do not apply to image or array data; leave them out")
        table, features, image_shape = read_image_table(path, label=label, id_column=id_column, membership_column=membership_column)
        id_column = id_column or (FOLDER_ID if path.is_dir() else None)
        require_features = False  # read_image_table refused NaN and non-numeric pixels
    else:
        table = read_table(path, text_columns=[c for c in (id_column, person_column) if c])
    id_lists = {}
    for role, file in (("members", members_file), ("nonmembers", nonmembers_file), ("population", population_file)):
        if file is not None:
            id_lists[role] = (read_id_file(file), Path(file))
    data = audit_data_from_frame(
        table, label=label, id_column=id_column, features=features, membership_column=membership_column,
        membership_ids=id_lists or None, classes=classes, require_features=require_features, source=str(path),
        person_column=person_column,
    )
    return data if image_shape is None else replace(data, records=replace(data.records, image_shape=image_shape))


def audit_data_from_frame(
    table: pd.DataFrame,
    *,
    label: str,
    id_column: str | None = None,
    features: Sequence[str] | None = None,
    membership_column: str | None = None,
    membership_ids: dict | None = None,
    classes: Sequence | None = None,
    require_features: bool = True,
    source: str = "<dataframe>",
    person_column: str | None = None,
) -> AuditData:
    """Build :class:`AuditData` from a DataFrame already in memory.

    Parameters
    ----------
    table : DataFrame
        One row per record.
    label : str
        Label column; its distinct values become ``classes`` (sorted) unless
        ``classes`` is given.
    id_column : str, optional
        Record ids (unique); row numbers as strings otherwise.
    features : list of str, optional
        Columns passed to the target; default every column that is not the
        label, id or membership column.
    membership_column : str, optional
        Column of roles: member / nonmember / population (also 1/0, in/out,
        true/false); blank for records to leave out.
    membership_ids : dict, optional
        Instead of a column: ``{"members": ids, "nonmembers": ids,
        "population": ids}`` (population optional); each value a list of ids
        or ``(ids, file path)`` so errors can name the file.
    source : str
        Named in error messages.
    person_column : str, optional
        Person ids (not a feature): membership becomes per person, and every
        person's records must share one role (``AuditData.person_ids``).

    Examples
    --------
    >>> from privaudit.datasets import make_synthetic_tabular
    >>> frame = make_synthetic_tabular(100, seed=0)
    >>> frame["split"] = ["member"] * 50 + ["nonmember"] * 50
    >>> data = audit_data_from_frame(frame, label="label", id_column="record_id", membership_column="split")
    >>> data.members.size, data.nonmembers.size, data.records.classes
    (50, 50, (0, 1))
    """
    path = source
    columns = list(table.columns)
    if (membership_column is None) == (membership_ids is None):
        raise DataError(f"{path}: give membership either as a column or as lists of ids, not both or neither")
    if label not in table.columns:
        raise DataError(f"{path}: label column '{label}' not found; columns are: {', '.join(map(str, columns))}")
    if table[label].isna().any():
        raise DataError(f"{path}: label column '{label}' has {int(table[label].isna().sum())} missing values; drop or fill those rows")
    if id_column is not None:
        if id_column not in table.columns:
            raise DataError(f"{path}: id column '{id_column}' not found; columns are: {', '.join(map(str, columns))}")
        ids = record_ids(table[id_column], source=path, column_name=id_column)
    else:
        ids = np.arange(len(table)).astype(str)
    # before the feature checks: a misspelt membership column would otherwise be reported as NaN in a feature
    if membership_column is not None and membership_column not in table.columns:
        raise DataError(f"{path}: membership column '{membership_column}' not found; columns are: {', '.join(map(str, columns))}")

    if person_column is not None and person_column not in table.columns:
        raise DataError(f"{path}: person column '{person_column}' not found; columns are: {', '.join(map(str, columns))}")
    persons = None if person_column is None else table[person_column].astype(str).str.strip().to_numpy()
    if persons is not None:
        blank = table[person_column].isna().to_numpy() | (persons == "")
        if blank.any():
            raise DataError(f"{path}: person column '{person_column}' is empty in {int(blank.sum())} row(s) (first: row "
                            f"{int(np.flatnonzero(blank)[0]) + 1}); give every record a person id")
    reserved = {label, id_column, membership_column, person_column} - {None}
    if features is None:
        features = [c for c in columns if c not in reserved]
    else:
        absent = [f for f in features if f not in table.columns]
        if absent:
            raise DataError(f"{path}: feature columns not found: {', '.join(absent)}")
        clash = reserved & set(features)
        if clash:
            raise DataError(f"{path}: {', '.join(clash)} cannot be both a feature and the label/id/membership/person column")
    feature_table = table[list(features)].reset_index(drop=True)
    if require_features:
        check_feature_values(feature_table, path)

    raw_labels = table[label].to_numpy()
    if classes is None:
        classes = tuple(sorted(pd.unique(raw_labels).tolist(), key=lambda v: (str(type(v)), v)))
    else:
        classes = tuple(classes)
        unknown = set(pd.unique(raw_labels).tolist()) - set(classes)
        if unknown:
            raise DataError(f"{path}: label column '{label}' has values not in data.classes: {sorted(map(str, unknown))[:5]}")
    class_index = {c: i for i, c in enumerate(classes)}
    labels = np.fromiter((class_index[v] for v in raw_labels), dtype=np.intp, count=len(raw_labels))
    records = RecordSet(ids, feature_table, labels, classes)

    if membership_column is not None:
        # blank cells (NaN; pandas ≥ 3 keeps NaN through astype(str)) mean "unused"
        column = table[membership_column]
        values = column.where(column.notna(), "").astype(str).str.strip().str.lower()
        roles = values.map(MEMBERSHIP_VALUES)
        if roles.isna().any():
            bad_values = sorted(values[roles.isna()].unique())[:5]
            raise DataError(
                f"{path}: membership column '{membership_column}' has unknown values {bad_values}; "
                "use member/nonmember/population (or 1/0, true/false, in/out), blank for records to ignore"
            )
        roles = roles.to_numpy()
        return AuditData(
            records,
            np.flatnonzero(roles == "member"),
            np.flatnonzero(roles == "nonmember"),
            np.flatnonzero(roles == "population"),
            source=path, person_ids=persons,
        )
    unknown_roles = set(membership_ids) - {"members", "nonmembers", "population"}
    if unknown_roles or not {"members", "nonmembers"} <= set(membership_ids):
        raise DataError(f"{path}: membership ids need 'members' and 'nonmembers' (and optionally 'population'), got {sorted(membership_ids)}")
    id_to_pos = {v: i for i, v in enumerate(ids)}
    sets = {"population": np.empty(0, dtype=np.intp)}
    for role, wanted in membership_ids.items():
        wanted, where = wanted if isinstance(wanted, tuple) else (wanted, path)
        sets[role] = _positions([str(i) for i in wanted], id_to_pos, where, role)
    return AuditData(records, sets["members"], sets["nonmembers"], sets["population"], source=path, person_ids=persons)
