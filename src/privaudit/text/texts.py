"""Read texts to audit from a file: one text per line (.txt), JSON Lines with a ``text`` field (.jsonl), or a CSV ``text`` column.

Every file is read as UTF-8; anything that is not a text (a JSON ``null``,
number or list, undecodable bytes, an empty CSV) is refused with a one-line
:class:`~privaudit.exceptions.DataError` naming the file, the line and the
fix — never turned into the string ``"None"`` or dropped silently.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import pandas as pd

from privaudit.exceptions import ConfigError, DataError

__all__ = ["read_texts", "write_texts", "shared_texts_error", "read_audit_texts"]


def _decode(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
                        f"re-save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)") from None


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def _read_jsonl(path: Path, content: str, field: str) -> list[str]:
    texts = []
    for number, line in enumerate(content.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)[field]
        except (json.JSONDecodeError, KeyError, TypeError, IndexError):
            raise DataError(f"{path}, line {number}: expected a JSON object with a '{field}' field") from None
        if not isinstance(value, str):
            kind = "null" if value is None else type(value).__name__
            raise DataError(f"{path}, line {number}: '{field}' is {kind}, not a string; give every text as a JSON string")
        texts.append(value)
    return texts


def _read_csv(path: Path, content: str, field: str) -> list[str]:
    import io

    if not content.strip():
        raise DataError(f"{path}: the CSV file is empty; give a header line with a '{field}' column and one text per row")
    try:
        frame = pd.read_csv(io.StringIO(content), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise DataError(f"{path}: not a readable CSV file ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__}); "
                        f"give a header line with a '{field}' column") from None
    if field not in frame.columns:
        raise DataError(f"{path}: no '{field}' column (columns: {', '.join(map(str, frame.columns))}); name the column of texts '{field}'")
    return frame[field].tolist()


def read_texts(path: str | Path, *, field: str = "text") -> list[str]:
    """Texts of ``path``; blank lines and blank texts are dropped.

    ``.txt``: one text per line (a text cannot hold a newline; use JSON Lines
    for that). ``.jsonl``: one JSON object per line, text in ``field`` (a JSON
    string). ``.csv``: the ``field`` column, every cell read as a string.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"text file {path} not found{' (it is a folder)' if path.is_dir() else ''}; give a .txt, .jsonl or .csv file")
    suffix = path.suffix.lower()
    if suffix not in (".txt", ".jsonl", ".csv"):
        raise ConfigError(f"{path}: give texts as .txt (one per line), .jsonl or .csv")
    content = _decode(path)
    if "\x00" in content:
        raise DataError(f"{path}: holds NUL bytes, so it is not a text file; give a .txt, .jsonl or .csv of texts in UTF-8")
    if suffix == ".txt":
        texts = content.splitlines()
    elif suffix == ".jsonl":
        texts = _read_jsonl(path, content, field)
    else:
        texts = _read_csv(path, content, field)
    texts = [t for t in texts if t.strip()]
    if not texts:
        raise DataError(f"{path}: no texts; give at least one non-blank text")
    return texts


def shared_texts_error(members: Sequence[str], nonmembers: Sequence[str], *, members_name: str = "the members",
                       nonmembers_name: str = "the non-members") -> str | None:
    """The error message when a text is both a member and a non-member (exact string match), else None.

    A text in both sets makes the split meaningless: the same text cannot
    have been trained on and not trained on.

    >>> shared_texts_error(["a", "b"], ["c"]) is None
    True
    >>> shared_texts_error(["a", "b"], ["b", "c"])
    "1 text is in both the members and the non-members (first: 'b'); a text cannot be both: remove it from one of them"
    """
    member_set = set(members)
    shared = [t for t in dict.fromkeys(nonmembers) if t in member_set]
    if not shared:
        return None
    count = f"{len(shared)} text{'s are' if len(shared) != 1 else ' is'}"
    return (f"{count} in both {members_name} and {nonmembers_name} (first: {_short(shared[0])}); "
            f"a text cannot be both: remove {'them' if len(shared) != 1 else 'it'} from one of them")


def read_audit_texts(members_file: str | Path, nonmembers_file: str | Path, *, field: str = "text") -> tuple[list[str], list[str]]:
    """Member and non-member texts from two files (:func:`read_texts`, texts in ``field``), refused when they share a text (naming both files)."""
    members, nonmembers = read_texts(members_file, field=field), read_texts(nonmembers_file, field=field)
    shared = shared_texts_error(members, nonmembers, members_name=f"{members_file} (--members)",
                                nonmembers_name=f"{nonmembers_file} (--nonmembers)")
    if shared:
        raise DataError(shared)
    return members, nonmembers


def write_texts(texts, path: str | Path) -> Path:
    """Write texts as JSON Lines (``{"text": ...}`` per line), the format that keeps any text intact."""
    path = Path(path)
    path.write_text("".join(json.dumps({"text": str(t)}, ensure_ascii=False) + "\n" for t in texts), encoding="utf-8")
    return path
