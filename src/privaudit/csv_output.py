"""CSV files that are safe to open in a spreadsheet (OWASP's rule against CSV/formula injection).

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and,
after a tab or carriage return, what follows) as a formula: a record id or a
text such as ``=cmd|' /C calc'!A0`` would run on the reader's machine. OWASP's
rule (https://owasp.org/www-community/attacks/CSV_Injection) is followed:
every *text* cell — column names included — that starts with one of
``= + - @``, tab or carriage return gets a single quote in front, and cells are
quoted as CSV requires (a comma, quote or line break). Numeric columns are
written as numbers, untouched: a score of ``-0.5`` stays ``-0.5``. A reader
that wants the original text back removes the leading ``'`` from such cells.

Every CSV privaudit writes goes through :func:`csv_bytes`.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["FORMULA_PREFIXES", "spreadsheet_safe_cell", "spreadsheet_safe_frame", "csv_bytes"]

#: first characters that make a spreadsheet evaluate a cell (OWASP)
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe_cell(value):
    """``value`` with a ``'`` in front when it is text starting with a formula character; anything else unchanged.

    Examples
    --------
    >>> spreadsheet_safe_cell("=1+2"), spreadsheet_safe_cell("rec-1"), spreadsheet_safe_cell(-0.5)
    ("'=1+2", 'rec-1', -0.5)
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def spreadsheet_safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells and column names are escaped by :func:`spreadsheet_safe_cell`.

    Only cells holding ``str`` are changed (in object, string or category
    columns); numeric and boolean columns are kept as they are.
    """
    safe = frame.copy()
    for column in safe.columns:
        series = safe[column]
        if pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype):
            continue
        safe[column] = series.astype(object).map(spreadsheet_safe_cell)
    safe.columns = [spreadsheet_safe_cell(str(c)) if isinstance(c, str) else c for c in safe.columns]
    return safe


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """``frame`` as spreadsheet-safe CSV (UTF-8, ``\\n`` line ends, no index, shortest round-trip floats).

    Examples
    --------
    >>> csv_bytes(pd.DataFrame({"id": ["@SUM(1)", "a"], "score": [-0.5, 1.0]})).decode()
    "id,score\\n'@SUM(1),-0.5\\na,1.0\\n"
    """
    return spreadsheet_safe_frame(frame).to_csv(index=False, lineterminator="\n").encode("utf-8")
