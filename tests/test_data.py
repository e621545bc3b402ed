"""Loading records and membership: clear errors that name the file and the field, CSV and Parquet, index files."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from privaudit.data import AuditData, load_audit_data, read_table
from privaudit.datasets import load_adult, make_synthetic_tabular
from privaudit.exceptions import DataError, PrivauditError

N = 40


def _frame(n: int = N) -> pd.DataFrame:
    frame = make_synthetic_tabular(n, seed=3)
    roles = np.array(["member", "nonmember", "population", ""])
    frame["split"] = roles[np.arange(n) % 4]
    return frame


def _write(frame: pd.DataFrame, path: Path) -> Path:
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    return path


def _ids(path: Path, ids) -> Path:
    path.write_text("# record ids, one per line\n" + "\n".join(map(str, ids)) + "\n")
    return path


@pytest.fixture
def csv_path(tmp_path) -> Path:
    """Records with a membership column ``split`` (blank cells: records left out)."""
    return _write(_frame(), tmp_path / "records.csv")


@pytest.fixture
def plain_csv(tmp_path) -> Path:
    """Records without a membership column, for membership given as index files."""
    return _write(_frame().drop(columns="split"), tmp_path / "plain.csv")


# --- what works -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".csv.gz"])
def test_membership_column_in_csv_and_parquet(tmp_path, suffix):
    frame = _frame()
    path = tmp_path / f"records{suffix}"
    if suffix == ".csv.gz":
        frame.to_csv(path, index=False, compression="gzip")
    else:
        _write(frame, path)
    data = load_audit_data(path, label="label", id_column="record_id", membership_column="split")
    assert isinstance(data, AuditData)
    assert len(data.records) == N
    assert data.members.size == data.nonmembers.size == data.population.size == N // 4
    np.testing.assert_array_equal(data.members, np.arange(0, N, 4))
    np.testing.assert_array_equal(data.nonmembers, np.arange(1, N, 4))
    np.testing.assert_array_equal(data.population, np.arange(2, N, 4))
    np.testing.assert_array_equal(data.records.ids, frame["record_id"].to_numpy())
    assert data.records.classes == (0, 1)
    np.testing.assert_array_equal(data.records.labels, frame["label"].to_numpy())
    assert list(data.records.features.columns) == [c for c in frame.columns if c not in ("record_id", "label", "split")]
    assert str(path) in data.source


def test_csv_and_parquet_give_the_same_records(tmp_path):
    frame = _frame()
    from_csv = load_audit_data(_write(frame, tmp_path / "r.csv"), label="label", id_column="record_id", membership_column="split")
    from_parquet = load_audit_data(_write(frame, tmp_path / "r.parquet"), label="label", id_column="record_id", membership_column="split")
    np.testing.assert_array_equal(from_csv.records.ids, from_parquet.records.ids)
    np.testing.assert_array_equal(from_csv.records.labels, from_parquet.records.labels)
    pd.testing.assert_frame_equal(from_csv.records.features, from_parquet.records.features)
    np.testing.assert_array_equal(from_csv.members, from_parquet.members)


@pytest.mark.parametrize(
    "values, role",
    [(["1", "1.0", "true", "IN", " train "], "member"), (["0", "false", "out", "Holdout", "test", "non-member"], "nonmember"), (["reference", "Population"], "population")],
)
def test_membership_value_spellings(tmp_path, values, role):
    frame = _frame(12)
    rest = 12 - len(values)
    frame["split"] = list(values) + ["member", "nonmember"] * (rest // 2) + ["member"] * (rest % 2)
    data = load_audit_data(_write(frame, tmp_path / "r.csv"), label="label", membership_column="split")
    positions = {"member": data.members, "nonmember": data.nonmembers, "population": data.population}[role]
    assert set(range(len(values))) <= set(positions.tolist())


def test_membership_as_index_files(tmp_path, plain_csv):
    frame = _frame()
    members = _ids(tmp_path / "members.txt", frame.record_id[::4])
    nonmembers = _ids(tmp_path / "nonmembers.txt", frame.record_id[1::4])
    population = _ids(tmp_path / "population.txt", frame.record_id[2::4])
    data = load_audit_data(plain_csv, label="label", id_column="record_id", members_file=members, nonmembers_file=nonmembers, population_file=population)
    np.testing.assert_array_equal(data.members, np.arange(0, N, 4))
    np.testing.assert_array_equal(data.nonmembers, np.arange(1, N, 4))
    np.testing.assert_array_equal(data.population, np.arange(2, N, 4))
    assert list(data.records.features.columns) == ["x0", "x1", "x2", "x3", "x4", "colour"]


def test_index_files_without_id_column_use_row_numbers(tmp_path):
    path = _write(_frame().drop(columns=["record_id", "split"]), tmp_path / "r.parquet")
    data = load_audit_data(path, label="label", members_file=_ids(tmp_path / "m.txt", [0, 5, 7]), nonmembers_file=_ids(tmp_path / "n.txt", [1, 2]))
    np.testing.assert_array_equal(data.members, [0, 5, 7])
    np.testing.assert_array_equal(data.nonmembers, [1, 2])
    assert data.population.size == 0


def test_tsv_is_read_with_tabs(tmp_path):
    path = tmp_path / "r.tsv"
    _frame().to_csv(path, sep="\t", index=False)
    assert read_table(path).shape == (N, _frame().shape[1])


# --- errors naming the file and the field -----------------------------------------------------------------


def _refused(match: str, *args, **kwargs) -> str:
    with pytest.raises(DataError, match=match) as info:
        load_audit_data(*args, **kwargs)
    return str(info.value)


def test_missing_file(tmp_path):
    path = tmp_path / "nope.csv"
    with pytest.raises(DataError, match="file not found") as info:
        read_table(path)
    assert str(path) in str(info.value)
    message = _refused("not found", path, label="label", membership_column="split")
    assert str(path) in message


def test_unsupported_file_type(tmp_path):
    path = tmp_path / "records.xlsx"
    path.write_bytes(b"not a table")
    with pytest.raises(DataError, match="unsupported file type") as info:
        read_table(path)
    assert str(path) in str(info.value)


def test_corrupt_parquet_is_a_data_error(tmp_path):
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"this is not parquet")
    with pytest.raises(DataError, match="could not be read") as info:
        read_table(path)
    assert str(path) in str(info.value)


def test_missing_label_column(csv_path):
    message = _refused("label column 'income' not found", csv_path, label="income", membership_column="split")
    assert str(csv_path) in message
    assert "record_id" in message and "x0" in message  # lists the columns there are


def test_missing_label_values(tmp_path):
    frame = _frame()
    frame["label"] = frame["label"].astype(float)
    frame.loc[[3, 8], "label"] = np.nan
    path = _write(frame, tmp_path / "r.csv")
    message = _refused("label column 'label' has 2 missing", path, label="label", membership_column="split")
    assert str(path) in message


def test_missing_id_and_membership_columns(csv_path):
    assert str(csv_path) in _refused("id column 'uid' not found", csv_path, label="label", id_column="uid", membership_column="split")
    # the blank cells of the real membership column 'split' must not be reported as NaN features first
    message = _refused("membership column 'role' not found", csv_path, label="label", membership_column="role")
    assert str(csv_path) in message and "split" in message


def test_nan_in_feature_columns(tmp_path):
    frame = _frame()
    frame.loc[[2, 3, 9], "x1"] = np.nan
    frame.loc[[4], "colour"] = np.nan
    path = _write(frame, tmp_path / "r.csv")
    message = _refused("missing values", path, label="label", id_column="record_id", membership_column="split")
    assert str(path) in message
    assert "'x1' (3 rows)" in message and "'colour' (1 rows)" in message
    assert "x0" not in message
    # a precomputed target needs no features: NaN there is then allowed
    data = load_audit_data(path, label="label", id_column="record_id", membership_column="split", require_features=False)
    assert len(data.records) == N


def test_unknown_feature_column(csv_path):
    message = _refused("feature columns not found: height", csv_path, label="label", features=["x0", "height"], membership_column="split")
    assert str(csv_path) in message


def test_label_cannot_be_a_feature(csv_path):
    _refused("cannot be both a feature", csv_path, label="label", features=["x0", "label"], membership_column="split")


def test_unknown_membership_values(tmp_path):
    frame = _frame()
    frame.loc[[1, 6], "split"] = ["maybe", "trained?"]
    path = _write(frame, tmp_path / "r.csv")
    message = _refused("membership column 'split' has unknown values", path, label="label", membership_column="split")
    assert str(path) in message
    assert "maybe" in message and "trained?" in message
    assert "member/nonmember" in message  # says what is allowed


def test_duplicate_ids(tmp_path):
    frame = _frame()
    frame.loc[7, "record_id"] = frame.loc[2, "record_id"]
    path = _write(frame, tmp_path / "r.csv")
    message = _refused("duplicate ids", path, label="label", id_column="record_id", membership_column="split")
    assert str(path) in message and "record_id" in message and frame.loc[2, "record_id"] in message


def test_same_id_as_member_and_nonmember_in_membership_column(tmp_path):
    """Column variant of overlap: one record id given two roles in two rows is refused."""
    frame = _frame()
    frame.loc[1, "record_id"] = frame.loc[0, "record_id"]  # row 0 member, row 1 nonmember
    path = _write(frame, tmp_path / "r.csv")
    message = _refused(re.escape(frame.loc[0, "record_id"]), path, label="label", id_column="record_id", membership_column="split")
    assert str(path) in message


def test_members_and_nonmembers_overlapping_in_index_files(tmp_path, plain_csv):
    frame = _frame()
    members = _ids(tmp_path / "members.txt", frame.record_id[:10])
    nonmembers = _ids(tmp_path / "nonmembers.txt", frame.record_id[8:20])
    message = _refused("2 records are both members and nonmembers", plain_csv, label="label", id_column="record_id", members_file=members, nonmembers_file=nonmembers)
    assert str(plain_csv) in message
    assert frame.record_id[8] in message and frame.record_id[9] in message


def test_population_overlapping_members_in_index_files(tmp_path, plain_csv):
    frame = _frame()
    message = _refused(
        "both members and population",
        plain_csv,
        label="label",
        id_column="record_id",
        members_file=_ids(tmp_path / "m.txt", frame.record_id[:5]),
        nonmembers_file=_ids(tmp_path / "n.txt", frame.record_id[5:10]),
        population_file=_ids(tmp_path / "p.txt", frame.record_id[4:5]),
    )
    assert frame.record_id[4] in message


def test_index_file_problems_name_the_index_file(tmp_path, plain_csv):
    frame = _frame()
    members = _ids(tmp_path / "members.txt", frame.record_id[:5])
    nonmembers = _ids(tmp_path / "nonmembers.txt", list(frame.record_id[5:10]) + ["ghost-1"])
    message = _refused("ids are not in the data", plain_csv, label="label", id_column="record_id", members_file=members, nonmembers_file=nonmembers)
    assert str(nonmembers) in message and "ghost-1" in message

    repeated = _ids(tmp_path / "repeated.txt", list(frame.record_id[:5]) + [frame.record_id[0]])
    message = _refused("more than once", plain_csv, label="label", id_column="record_id", members_file=repeated, nonmembers_file=_ids(tmp_path / "n2.txt", frame.record_id[5:10]))
    assert str(repeated) in message

    absent = tmp_path / "absent.txt"
    message = _refused("membership index file not found", plain_csv, label="label", id_column="record_id", members_file=members, nonmembers_file=absent)
    assert str(absent) in message


def test_membership_column_and_files_are_exclusive(tmp_path, csv_path):
    members = _ids(tmp_path / "m.txt", ["rec-000000"])
    _refused("either as a column", csv_path, label="label", membership_column="split", members_file=members, nonmembers_file=members)
    _refused("either as a column", csv_path, label="label")
    _refused("nonmembers is missing", csv_path, label="label", members_file=members)


def test_audit_needs_members_and_nonmembers(tmp_path):
    frame = _frame()
    frame["split"] = ["member", "population"] * (N // 2)
    path = _write(frame, tmp_path / "r.csv")
    message = _refused("at least one member and one non-member", path, label="label", membership_column="split")
    assert str(path) in message


def test_labels_outside_declared_classes(csv_path):
    _refused("values not in data.classes", csv_path, label="label", membership_column="split", classes=[0])


def test_every_data_error_is_a_privaudit_error_and_a_value_error(tmp_path):
    with pytest.raises(PrivauditError):
        read_table(tmp_path / "missing.csv")
    with pytest.raises(ValueError):
        read_table(tmp_path / "missing.csv")


# --- built-in data ------------------------------------------------------------------------------------------


def test_load_adult_shape_and_columns():
    adult = load_adult()
    assert adult.shape == (48_842, 17)
    assert adult["record_id"].is_unique
    assert adult["record_id"].iloc[0] == "adult-00000"
    assert set(adult["income"].unique()) == {"<=50K", ">50K"}
    assert set(adult["uci_split"].unique()) == {"train", "test"}
    assert not adult.isna().any().any()
    assert "?" not in set(adult["workclass"])


def test_make_synthetic_tabular_is_deterministic_under_seed():
    first = make_synthetic_tabular(200, n_classes=3, seed=11)
    second = make_synthetic_tabular(200, n_classes=3, seed=11)
    pd.testing.assert_frame_equal(first, second)
    other = make_synthetic_tabular(200, n_classes=3, seed=12)
    assert not first.drop(columns="record_id").equals(other.drop(columns="record_id"))
    assert list(first.columns) == ["record_id", "x0", "x1", "x2", "x3", "x4", "colour", "label"]
    assert set(first["label"].unique()) <= {0, 1, 2}
    assert first["record_id"].is_unique


# --- ids are exact (issue 13, item 7) ------------------------------------------------------------------------


def _exact_id_table(tmp_path: Path) -> Path:
    """Ids that a lenient reader would change: leading zeros, NA spellings, a trailing space, case twins."""
    ids = ["007", "7", "NA", "null", "nan-not", "rec-1 ", "Rec-2", "rec-2", "1e3", "0x10"]
    lines = ["record_id,x,label"] + [f"{i},{k * 0.5},{k % 2}" for k, i in enumerate(ids)]
    path = tmp_path / "ids.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_ids_are_read_exactly_as_written(tmp_path):
    path = _exact_id_table(tmp_path)
    members = _ids(tmp_path / "m.txt", ["007", "NA", "rec-1 ", "Rec-2", "1e3"])
    nonmembers = _ids(tmp_path / "n.txt", ["7", "null", "rec-2", "0x10", "nan-not"])
    data = load_audit_data(path, label="label", id_column="record_id", members_file=members, nonmembers_file=nonmembers)
    assert data.records.ids.tolist() == ["007", "7", "NA", "null", "nan-not", "rec-1 ", "Rec-2", "rec-2", "1e3", "0x10"]
    assert data.records.ids[data.members].tolist() == ["007", "NA", "rec-1 ", "Rec-2", "1e3"]
    assert data.records.ids[data.nonmembers].tolist() == ["7", "null", "rec-2", "0x10", "nan-not"]
    # the feature column is still parsed as numbers
    assert data.records.features["x"].dtype.kind == "f"
    # and the same from Parquet, where ids are typed by the file
    table = pd.read_csv(path, dtype={"record_id": str}, keep_default_na=False)
    parquet = _write(table, tmp_path / "ids.parquet")
    again = load_audit_data(parquet, label="label", id_column="record_id", members_file=members, nonmembers_file=nonmembers)
    assert again.records.ids.tolist() == data.records.ids.tolist()


@pytest.mark.parametrize(
    "given, near",
    [("rec-000 ", "rec-000"), (" rec-000", "rec-000"), ("REC-000", "rec-000"), ("rec-000\t", "rec-000"), ("rec-003", "rec-003 ")],
)
def test_an_id_that_differs_only_by_whitespace_or_case_is_an_error_naming_both(tmp_path, given, near):
    ids = ["rec-000", "rec-001", "rec-002", "rec-003 "]
    frame = pd.DataFrame({"record_id": ids, "x": [0.0, 1.0, 2.0, 3.0], "label": [0, 1, 0, 1]})
    path = _write(frame, tmp_path / "r.csv")
    members = _ids(tmp_path / "m.txt", [given, "rec-001"])
    nonmembers = _ids(tmp_path / "n.txt", ["rec-002"])
    message = _refused("differs only in whitespace or case", path, label="label", id_column="record_id", members_file=members, nonmembers_file=nonmembers)
    assert repr(given) in message and repr(near) in message and "m.txt" in message


def test_membership_file_lines_are_not_stripped(tmp_path, plain_csv):
    ids = pd.read_csv(plain_csv).record_id.tolist()
    (tmp_path / "m.txt").write_text(f"{ids[0]}\r\n\n   \n# comment\n{ids[1]}\n")  # CRLF, blank and comment lines are fine
    _ids(tmp_path / "n.txt", ids[2:4])
    data = load_audit_data(plain_csv, label="label", id_column="record_id", members_file=tmp_path / "m.txt", nonmembers_file=tmp_path / "n.txt")
    assert data.records.ids[data.members].tolist() == ids[:2]
    (tmp_path / "m.txt").write_text(f"{ids[0]} \n")  # a trailing space is part of the id: no longer selects ids[0]
    message = _refused("whitespace or case", plain_csv, label="label", id_column="record_id", members_file=tmp_path / "m.txt", nonmembers_file=tmp_path / "n.txt")
    assert repr(ids[0] + " ") in message and repr(ids[0]) in message


def test_duplicates_are_named(tmp_path, plain_csv):
    ids = pd.read_csv(plain_csv).record_id.tolist()
    _ids(tmp_path / "m.txt", [ids[0], ids[1], ids[0], ids[2], ids[1]])
    _ids(tmp_path / "n.txt", ids[5:7])
    message = _refused("more than once", plain_csv, label="label", id_column="record_id", members_file=tmp_path / "m.txt", nonmembers_file=tmp_path / "n.txt")
    assert "2 ids" in message and repr(ids[0]) in message and repr(ids[1]) in message and "m.txt" in message
    frame = pd.read_csv(plain_csv)
    frame.loc[[3, 9], "record_id"] = frame.record_id[0]
    frame.loc[11, "record_id"] = frame.record_id[1]
    doubled = _write(frame, tmp_path / "doubled.csv")
    message = _refused("duplicate ids", doubled, label="label", id_column="record_id", membership_column=None, members_file=tmp_path / "m.txt", nonmembers_file=tmp_path / "n.txt")
    assert "3 duplicate ids" in message and repr(ids[0]) in message and repr(ids[1]) in message


def test_empty_ids_are_refused(tmp_path):
    (tmp_path / "r.csv").write_text("record_id,x,label,split\na,1,0,member\n,2,1,nonmember\nNA,3,0,nonmember\n")
    message = _refused("empty ids", tmp_path / "r.csv", label="label", id_column="record_id", membership_column="split")
    assert "rows 2" in message and "'record_id'" in message
    frame = pd.DataFrame({"record_id": ["a", None, "c"], "x": [1.0, 2.0, 3.0], "label": [0, 1, 0], "split": ["member", "nonmember", "nonmember"]})
    message = _refused("empty ids", _write(frame, tmp_path / "r.parquet"), label="label", id_column="record_id", membership_column="split")
    assert "rows 2" in message


# --- unusable files: one line naming the file and the fix ------------------------------------------------------------


@pytest.mark.parametrize(
    "name, content, expected",
    [
        ("trunc.csv.gz", "gzip-truncated", "truncated"),
        ("bad.csv.gz", "gzip-corrupt", "corrupt"),
        ("plain.csv.gz", "not-gzip", "not a gzip file"),
        ("empty.csv", b"", "empty"),
        ("blank.csv", b"\n\n  \n", "empty"),
        ("header.csv", b"record_id,x,label\n", "no rows"),
        ("binary.csv", bytes(range(256)), "binary"),
        ("latin1.csv", "record_id,x,label\nr\xe9c,1,0\n".encode("latin-1"), "not UTF-8 text (byte 0xe9 on line 2)"),
        ("ragged.csv", b"a,b\n1,2\n1,2,3,4\n", "well-formed CSV"),
        ("trunc.parquet", "parquet-truncated", "Parquet"),
        ("empty.parquet", b"", "empty"),
    ],
)
def test_unusable_files_give_one_line_naming_the_file(tmp_path, name, content, expected):
    import gzip

    raw = b"record_id,x,label\n" + b"".join(f"r{i},{i},{i % 2}\n".encode() for i in range(200))
    if content == "gzip-truncated":
        content = gzip.compress(raw)[:-30]
    elif content == "gzip-corrupt":
        packed = gzip.compress(raw)
        content = packed[:20] + bytes(b ^ 0xFF for b in packed[20:40]) + packed[40:]
    elif content == "not-gzip":
        content = raw
    elif content == "parquet-truncated":
        pd.read_csv(io.BytesIO(raw)).to_parquet(tmp_path / "full.parquet")
        content = (tmp_path / "full.parquet").read_bytes()[:-100]
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataError) as info:
        read_table(path, text_columns=["record_id"])
    message = str(info.value)
    assert expected in message and str(path) in message and "\n" not in message
