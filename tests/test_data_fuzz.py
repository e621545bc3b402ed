"""Property-based tests: random and mutated CSV, gzip and Parquet bytes and id files into the loaders.

Whatever the bytes, :func:`read_table`, :func:`load_audit_data` and the precomputed-outputs loader either
return or raise a :class:`PrivauditError` (one line); nothing else escapes. Examples are bounded and the
search is derandomised, so a run takes seconds and is the same every time.
"""

from __future__ import annotations

import gzip
import io
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from privaudit.data import load_audit_data, read_table
from privaudit.exceptions import PrivauditError
from privaudit.targets.precomputed import load_precomputed_target

FUZZ = settings(max_examples=30, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow])


def _good_csv() -> bytes:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({
        "record_id": [f"r{i:03d}" for i in range(24)],
        "x": rng.normal(size=24).round(3),
        "colour": rng.choice(["red", "blue"], 24),
        "label": rng.integers(0, 2, 24),
        "split": ["member", "nonmember", "population", ""] * 6,
    })
    return frame.to_csv(index=False).encode()


GOOD_CSV = _good_csv()


def _good_parquet() -> bytes:
    buffer = io.BytesIO()
    pd.read_csv(io.BytesIO(GOOD_CSV), keep_default_na=False).to_parquet(buffer, index=False)
    return buffer.getvalue()


GOOD_PARQUET = _good_parquet()


@st.composite
def mutated(draw, original: bytes) -> bytes:
    """``original`` with a few random byte flips, insertions, deletions or a truncation."""
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "splice"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8) | st.sampled_from([b",", b"\n", b'"', b"\x00", b"\xff", b"\r", b"NA", b",,,"]))
        elif kind == "delete":
            del data[at:at + draw(st.integers(1, 16))]
        elif kind == "truncate":
            del data[at:]
        elif kind == "splice":
            data[at:at] = bytes(data[: draw(st.integers(0, 40))])
    return bytes(data)


def _only_privaudit_errors(call) -> None:
    try:
        call()
    except PrivauditError as exc:
        assert "\n" not in str(exc), f"multi-line error: {exc}"
    # anything else escapes and fails the test with its traceback


def _audit(path: Path, **kwargs):
    return load_audit_data(path, label="label", id_column="record_id", membership_column="split", **kwargs)


@FUZZ
@given(st.binary(max_size=600))
def test_random_bytes_into_every_reader(data):
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("t.csv", "t.tsv", "t.csv.gz", "t.parquet"):
            path = Path(tmp) / name
            path.write_bytes(data)
            _only_privaudit_errors(lambda: read_table(path, text_columns=["record_id"]))
            _only_privaudit_errors(lambda: _audit(path))


@FUZZ
@given(mutated(GOOD_CSV))
def test_mutated_csv_into_the_audit_loader(data):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "records.csv"
        path.write_bytes(data)
        _only_privaudit_errors(lambda: _audit(path))
        _only_privaudit_errors(lambda: _audit(path, features=["x"], require_features=True))
        _only_privaudit_errors(lambda: load_precomputed_target({"path": "records.csv"}, Path(tmp), "vendor"))


@FUZZ
@given(mutated(gzip.compress(GOOD_CSV, mtime=0)))
def test_mutated_gzip_into_the_audit_loader(data):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "records.csv.gz"
        path.write_bytes(data)
        _only_privaudit_errors(lambda: _audit(path))


@FUZZ
@given(mutated(GOOD_PARQUET))
def test_mutated_parquet_into_the_audit_loader(data):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "records.parquet"
        path.write_bytes(data)
        _only_privaudit_errors(lambda: _audit(path))


CELLS = st.one_of(
    st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=6), st.sampled_from(["member", "nonmember", "population", "", "NA", "r001", " r001", "R001"]),
)


@FUZZ
@given(st.lists(st.tuples(CELLS, CELLS, CELLS, CELLS), min_size=0, max_size=12), st.sampled_from(["csv", "parquet"]))
def test_random_tables_into_the_audit_loader(rows, kind):
    """Mixed-type columns (ids, labels, features, roles) written as CSV or Parquet."""
    frame = pd.DataFrame(rows, columns=["record_id", "x", "label", "split"], dtype=object)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"records.{kind}"
        try:
            if kind == "csv":
                frame.to_csv(path, index=False)
            else:
                frame.astype(str).to_parquet(path, index=False)
        except (ValueError, TypeError, OverflowError, UnicodeEncodeError):
            reject()  # pandas cannot write this table: not the loader's concern
        _only_privaudit_errors(lambda: _audit(path))


@FUZZ
@given(st.lists(st.text(st.characters(exclude_categories=("Cs",)), max_size=8)
                | st.sampled_from(["r001", "r001 ", "R001", " r002", "#x", "r003\r", "r001"]), max_size=10),
       st.binary(max_size=40))
def test_random_membership_files(lines, noise):
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "records.csv").write_bytes(GOOD_CSV)
        (tmp / "members.txt").write_bytes("\n".join(lines).encode("utf-8"))
        (tmp / "nonmembers.txt").write_bytes(b"r002\n" + noise)
        _only_privaudit_errors(lambda: load_audit_data(tmp / "records.csv", label="label", id_column="record_id",
                                                       members_file=tmp / "members.txt", nonmembers_file=tmp / "nonmembers.txt"))
