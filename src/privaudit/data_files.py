"""Reading user tables and id files: CSV (optionally gzipped), TSV, Parquet, one-id-per-line lists.

Every way a file can be unusable — missing, empty, header only, binary, not
UTF-8, a truncated or corrupt gzip stream, a truncated or foreign Parquet
file, rows the CSV parser cannot split — ends in one :class:`DataError` line
that names the file, the problem and the fix. Nothing else escapes from
:func:`read_table` or :func:`read_id_file` (checked by property-based tests
in ``tests/test_data_fuzz.py``).

Record ids are text, exactly as written: columns named in ``text_columns``
are read as strings with no missing-value conversion (``007`` stays ``007``,
``NA`` and ``null`` are ids like any other), and id files are not stripped
(only blank lines and ``#`` comments are skipped).
"""

from __future__ import annotations

import gzip
import io
import zlib
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from privaudit.exceptions import DataError

__all__ = ["read_table", "read_id_file", "record_ids", "first_line", "gunzip_capped", "id_near_miss"]

#: compressed files are expanded up to this many bytes (a gzip bomb stops here)
MAX_TABLE_BYTES = 4 * 1024**3
_CSV_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".tsv.gz", ".txt")


def first_line(exc: BaseException) -> str:
    """The first non-blank line of an exception's message (parsers write several)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def _csv_bytes(path: Path, compressed: bool) -> bytes:
    try:
        if path.stat().st_size > MAX_TABLE_BYTES:  # read whole below: refuse before, not after filling memory
            raise DataError(f"{path}: larger than {MAX_TABLE_BYTES >> 30} GiB; split it or use Parquet")
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: could not be read ({first_line(exc)}); check the path and its permissions") from None
    if not compressed:
        return raw
    if raw[:2] != b"\x1f\x8b":
        raise DataError(f"{path}: not a gzip file although its name ends in .gz; rename it without .gz or compress it with gzip")
    return gunzip_capped(path, MAX_TABLE_BYTES, fix="copy or download it again", too_large="split it or use Parquet",
                         stream=io.BytesIO(raw))


def gunzip_capped(path: Path, limit: int, *, fix: str, too_large: str, stream=None) -> bytes:
    """The decompressed bytes of the gzip file ``path`` (or of ``stream``, its bytes already read), at most ``limit``.

    A truncated or corrupt stream, or one expanding past ``limit`` (a decompression bomb stops at ``limit + 1``
    bytes read), is one :class:`~privaudit.exceptions.DataError` line naming ``path`` and the fix (``fix``:
    for a damaged file; ``too_large``: for one over the limit). A missing file raises ``FileNotFoundError``.
    """
    try:
        with gzip.GzipFile(fileobj=stream) if stream is not None else gzip.open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except FileNotFoundError:
        raise
    except EOFError:  # click would turn this into "interrupted" (exit 130)
        raise DataError(f"{path}: the gzip stream is truncated (the file ends early); {fix}") from None
    except (OSError, zlib.error) as exc:
        raise DataError(f"{path}: the gzip stream is corrupt ({first_line(exc)}); {fix}") from None
    if len(data) > limit:
        size = f"{limit >> 30} GiB" if limit >= 1 << 30 else f"{limit >> 20} MiB"
        raise DataError(f"{path}: expands to more than {size}; {too_large}")
    return data


def _check_text(path: Path, data: bytes) -> str:
    if not data.strip():
        raise DataError(f"{path}: the file is empty; it needs a header line and one row per record")
    if b"\x00" in data[:65536]:
        raise DataError(f"{path}: is binary, not CSV text; export the table as UTF-8 CSV or Parquet")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DataError(
            f"{path}: is not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}); save it as UTF-8 "
            "(e.g. iconv -f latin1 -t utf-8)"
        ) from None


def _parse_csv(path: Path, text: str, sep: str, text_columns: Sequence[str]) -> pd.DataFrame:
    try:
        table = pd.read_csv(io.StringIO(text), sep=sep, keep_default_na=True)
        wanted = [c for c in text_columns if c in table.columns]
        if wanted:
            exact = pd.read_csv(io.StringIO(text), sep=sep, usecols=wanted, dtype=str, keep_default_na=False)
            for column in wanted:
                table[column] = exact[column].to_numpy()
    except (ValueError, pd.errors.ParserError, IndexError, TypeError, OverflowError) as exc:
        raise DataError(f"{path}: is not a well-formed CSV ({first_line(exc)}); every row needs as many fields as the header") from None
    return table


def _parse_parquet(path: Path) -> pd.DataFrame:
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty; write the table again with DataFrame.to_parquet")
    try:
        return pd.read_parquet(path)
    except ImportError:
        raise
    except Exception as exc:  # noqa: BLE001 - pyarrow raises many unrelated types on a corrupt file
        detail = first_line(exc).replace(f" '{path}'", "")
        raise DataError(f"{path}: could not be read as Parquet ({detail}); it may be truncated or not Parquet: write it again with DataFrame.to_parquet") from None


def read_table(path: str | Path, *, text_columns: Sequence[str] = ()) -> pd.DataFrame:
    """Read a CSV (optionally gzipped), TSV or Parquet table.

    Parameters
    ----------
    path : str or Path
        ``.csv``, ``.csv.gz``, ``.tsv``, ``.txt`` (comma-separated) or ``.parquet`` / ``.pq``.
    text_columns : sequence of str
        Columns (e.g. record ids) to read as text exactly as written in a CSV:
        no number parsing and no missing-value conversion. Absent columns are ignored here.

    Returns
    -------
    DataFrame
        At least one column and one row.

    Raises
    ------
    DataError
        One line naming the file, what is wrong and the fix.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found; check the path (relative to the config file)")
    suffixes = "".join(path.suffixes[-2:]).lower()
    try:
        if suffixes.endswith((".parquet", ".pq")):
            table = _parse_parquet(path)
        elif suffixes.endswith(_CSV_SUFFIXES):
            text = _check_text(path, _csv_bytes(path, suffixes.endswith(".gz")))
            table = _parse_csv(path, text, "\t" if ".tsv" in suffixes else ",", text_columns)
        else:
            raise DataError(f"{path}: unsupported file type; use .csv, .csv.gz, .tsv or .parquet")
    except MemoryError:  # e.g. a small .csv.gz that expands to gigabytes (a gzip bomb below MAX_TABLE_BYTES)
        error = DataError(f"{path}: does not fit in memory ({path.stat().st_size:,} bytes on disk, expanding to more than this machine "
                          "can hold); check the file, or audit a sample of its rows")
        error.exit_code = 1
        raise error from None
    if table.shape[1] == 0:
        raise DataError(f"{path}: has no columns; the first line must be a header naming the columns")
    if table.shape[0] == 0:
        raise DataError(f"{path}: has a header but no rows; add one row per record")
    return table


def read_id_file(path: str | Path) -> list[str]:
    """Record ids in ``path``, one per line, exactly as written.

    Blank lines and lines starting with ``#`` are skipped; nothing else is
    stripped (a trailing space is part of the id). UTF-8, optional BOM.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: membership index file not found; check membership.members / nonmembers / population")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: could not be read ({first_line(exc)}); check its permissions") from None
    if b"\x00" in raw:
        raise DataError(f"{path}: is binary, not a text file of record ids (one per line)")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); save it as UTF-8") from None
    lines = [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]
    return [line for line in lines if line.strip() and not line.startswith("#")]


def record_ids(column: pd.Series, *, source: str, column_name: str) -> np.ndarray:
    """Record ids of a table column as an array of str, checked: none missing or empty, all unique.

    Values are converted with ``str`` only (a CSV id column is already text,
    see :func:`read_table`); nothing is stripped or case-folded.
    """
    values = column.reset_index(drop=True)
    missing = values.isna().to_numpy() | (values.astype(object).map(lambda v: isinstance(v, str) and v == "")).to_numpy()
    if missing.any():
        rows = np.flatnonzero(missing)[:5] + 1
        raise DataError(
            f"{source}: id column '{column_name}' has {int(missing.sum())} empty ids (rows {', '.join(map(str, rows))}, counting from 1 after the header); "
            "give every record an id"
        )
    ids = np.array([str(v) for v in values.to_numpy()], dtype=object).astype(str)
    duplicated = pd.Series(ids).duplicated(keep="first")
    if duplicated.any():
        first = list(dict.fromkeys(ids[duplicated.to_numpy()]))[:5]
        raise DataError(
            f"{source}: id column '{column_name}' has {int(duplicated.sum())} duplicate ids (first: {', '.join(repr(str(i)) for i in first)}); "
            "record ids must be unique"
        )
    return ids


def _loose_id(value) -> str:
    import unicodedata

    text = unicodedata.normalize("NFC", str(value)).strip()
    return (text.lstrip("0") or "0") if text.isdigit() else text.casefold()


def id_near_miss(missing, available, *, limit: int = 1000) -> str:
    """``" (…)"`` naming an id of ``available`` that differs from one of ``missing`` (first ``limit``) only in leading zeros,
    surrounding spaces, case or Unicode form, or ``""``. Ids are matched exactly as written; this only explains a refusal
    (called on the error path: one pass over ``available``)."""
    loose = {}
    for value in available:
        loose.setdefault(_loose_id(value), str(value))
    for value in list(missing)[:limit]:
        other = loose.get(_loose_id(value))
        if other is not None:
            return (f" (id {str(value)!r} is written {other!r} there: ids are matched exactly as written, so leading zeros, spaces, "
                    "case and Unicode form must agree; write the ids the same way in both files, e.g. both as text)")
    return ""
