"""Texts to audit from one file named in a config: JSON Lines, plain text or a table, with membership as for tables.

Formats (by suffix):

* ``.jsonl`` — one JSON object per line; the text in ``text_column`` (a JSON
  string), the id in ``id_column`` (a string or integer) and the membership
  in the membership column, if the config names them;
* ``.txt`` — one text per line (blank lines skipped); no columns, so
  membership comes from id files and the ids are the texts' positions
  ``0, 1, 2, ...`` among the file's non-blank lines;
* ``.csv``, ``.csv.gz``, ``.tsv``, ``.parquet`` — a table
  (:func:`privaudit.data_files.read_table`), text, id and membership columns
  read as text exactly as written.

Membership is a column (``member`` / ``nonmember``, or 1/0, true/false, ...;
:data:`privaudit.data.MEMBERSHIP_VALUES`; blank = leave the text out) or two
files of record ids, one per line (:func:`privaudit.data_files.read_id_file`).
A text audit has no population records.

Every unusable file — missing, not UTF-8, a missing column, an empty or
non-string text, a text longer than :data:`MAX_TEXT_CHARS`, duplicate ids,
a text that is both a member and a non-member — ends in one
:class:`~privaudit.exceptions.DataError` line naming the file, the row and the fix.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from privaudit.data_files import MAX_TABLE_BYTES, read_id_file, read_table
from privaudit.exceptions import DataError
from privaudit.text.texts import shared_texts_error

__all__ = ["TextData", "Documents", "load_text_data", "read_documents", "read_text_file", "read_audit_texts", "text_data_jsonl", "read_canaries", "canaries_jsonl", "MAX_TEXT_CHARS", "TEXT_SUFFIXES"]

#: the longest text accepted, in characters (a language model reads at most a few thousand tokens of it anyway)
MAX_TEXT_CHARS = 100_000

#: file name endings :func:`load_text_data` reads
TEXT_SUFFIXES = (".jsonl", ".txt", ".csv", ".csv.gz", ".tsv", ".tsv.gz", ".parquet", ".pq")


@dataclass
class TextData:
    """Member and non-member texts with their record ids; ``record_ids`` and ``texts`` list members first.

    ``members``/``nonmembers`` are lists of str, ``member_ids``/``nonmember_ids``
    arrays of str of the same lengths; ``source`` names the file in messages.
    ``member_persons``/``nonmember_persons``: whose text each is (person or
    author, arrays of str; ``data.person_column``), or None without that column.
    """

    members: list
    nonmembers: list
    member_ids: np.ndarray
    nonmember_ids: np.ndarray
    source: str = "<memory>"
    member_persons: np.ndarray | None = None
    nonmember_persons: np.ndarray | None = None

    @property
    def record_ids(self) -> np.ndarray:
        """Ids of the members, then of the non-members (the order of every score array of the audit)."""
        return np.concatenate([self.member_ids, self.nonmember_ids]).astype(str)

    @property
    def texts(self) -> list:
        return list(self.members) + list(self.nonmembers)


def _file_text(path: Path) -> str:
    if not path.is_file():
        raise DataError(f"{path}: text file not found{' (it is a folder)' if path.is_dir() else ''}; check data.path (relative to the config file)")
    if path.stat().st_size > MAX_TABLE_BYTES:
        raise DataError(f"{path}: larger than {MAX_TABLE_BYTES >> 30} GiB; audit a sample of its texts")
    raw = path.read_bytes()
    if b"\x00" in raw:
        raise DataError(f"{path}: holds NUL bytes, so it is not a text file; give UTF-8 JSON Lines, plain text or CSV")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(f"{path}: not UTF-8 text (byte 0x{raw[exc.start]:02x} on line {line}); re-save the file as UTF-8 "
                        "(e.g. iconv -f latin1 -t utf-8)") from None


def _kind(value) -> str:
    return "null" if value is None else {bool: "a boolean", int: "a number", float: "a number", list: "a list", dict: "an object"}.get(type(value), type(value).__name__)


def _json_lines(path: Path):
    """``(line number, parsed value or None when the line is not JSON)`` for every non-blank line of a JSON Lines file."""
    for number, line in enumerate(_file_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except (json.JSONDecodeError, RecursionError):
            yield number, None


def _jsonl_rows(path: Path, columns: dict[str, str | None], options: dict | None = None) -> tuple[list[dict], list[int]]:
    option = lambda role: (options or {}).get(role, f"data.{role}_column")  # noqa: E731  where the user named the field
    rows, numbers = [], []
    for number, entry in _json_lines(path):
        if not isinstance(entry, dict):
            raise DataError(f"{path}, line {number}: not a JSON object; give one object per line, e.g. {{\"{columns['text']}\": \"...\"}}")
        row = {}
        for role, name in columns.items():
            if name is None:
                continue
            if name not in entry:
                raise DataError(f"{path}, line {number}: no '{name}' field ({option(role)}; fields: {', '.join(map(str, entry)) or 'none'}); "
                                f"give every line a '{name}' field, or name the right field in {option(role)}")
            value = entry[name]
            if role == "text" and not isinstance(value, str):
                raise DataError(f"{path}, line {number}: '{name}' is {_kind(value)}, not a string; give every text as a JSON string")
            if role in ("id", "person") and (isinstance(value, bool) or not isinstance(value, (str, int))):
                raise DataError(f"{path}, line {number}: {role} '{name}' is {_kind(value)}; give {role}s as strings or integers")
            if role == "membership" and isinstance(value, (list, dict)):
                raise DataError(f"{path}, line {number}: membership '{name}' is {_kind(value)}; use member / nonmember (or true / false)")
            row[role] = value if role == "text" else ("" if value is None else str(value).lower() if isinstance(value, bool) else str(value))
        rows.append(row)
        numbers.append(number)
    return rows, numbers


def _table_rows(path: Path, columns: dict[str, str | None], options: dict | None = None) -> tuple[list[dict], list[int]]:
    option = lambda role: (options or {}).get(role, f"data.{role}_column")  # noqa: E731
    names = [c for c in columns.values() if c]
    table = read_table(path, text_columns=names)
    for role, name in columns.items():
        if name is not None and name not in table.columns:
            raise DataError(f"{path}: no '{name}' column ({option(role)}; columns: {', '.join(map(str, table.columns))}); "
                            f"name the right column in {option(role)}")
    chosen = table[names]
    frame = chosen.astype(object).where(chosen.notna(), "")
    rows = [{role: str(record[name]) for role, name in columns.items() if name} for record in frame.to_dict("records")]
    return rows, list(range(1, len(rows) + 1))  # data rows, counted from 1 after the header


def _check_texts(path: Path, rows: list[dict], numbers: list[int], where: str) -> None:
    for row, number in zip(rows, numbers, strict=True):
        text = row["text"]
        if not text.strip():
            raise DataError(f"{path}, {where} {number}: the text is empty; remove the row or give it a text")
        if len(text) > MAX_TEXT_CHARS:
            raise DataError(f"{path}, {where} {number}: a text of {len(text):,} characters, more than {MAX_TEXT_CHARS:,}; "
                            "split it into shorter texts (a language model scores only its first tokens)")


def _unique_ids(path: Path, ids: list[str], numbers: list[int], id_column: str | None, where: str) -> np.ndarray:
    seen: dict[str, int] = {}
    for value, number in zip(ids, numbers, strict=True):
        if value == "":
            raise DataError(f"{path}, {where} {number}: id '{id_column}' is empty; give every text an id")
        if value in seen:
            raise DataError(f"{path}, {where} {number}: id {value!r} also on {where} {seen[value]}; record ids must be unique")
        seen[value] = number
    return np.asarray(ids, dtype=str)


def _roles_from_files(path: Path, ids: np.ndarray, members_file, nonmembers_file) -> np.ndarray:
    position = {value: i for i, value in enumerate(ids)}
    roles = np.full(ids.size, "unused", dtype=object)
    for role, file in (("member", members_file), ("nonmember", nonmembers_file)):
        wanted = read_id_file(file)
        missing = [i for i in wanted if i not in position]
        if missing:
            raise DataError(f"{file}: {len(missing)} {role} id(s) are not in {path} (e.g. {missing[0]!r}); ids must match the id column "
                            "exactly (without data.id_column, the ids are the texts' positions 0, 1, 2, ...)")
        for value in wanted:
            if roles[position[value]] != "unused":
                raise DataError(f"{file}: id {value!r} is listed {'twice' if roles[position[value]] == role else 'as a member and as a non-member'}; "
                                "list each id once, in one file")
            roles[position[value]] = role
    return roles


def _roles_from_column(path: Path, values: list[str], numbers: list[int], column: str, where: str) -> np.ndarray:
    from privaudit.data import MEMBERSHIP_VALUES

    roles = []
    for value, number in zip(values, numbers, strict=True):
        role = MEMBERSHIP_VALUES.get(value.strip().lower())
        if role is None or role == "population":
            problem = "a population role, but a text audit uses no population" if role == "population" else f"unknown value {value!r}"
            raise DataError(f"{path}, {where} {number}: membership '{column}' has {problem}; use member / nonmember "
                            "(or 1/0, true/false, in/out), blank for texts to leave out")
        roles.append(role)
    return np.asarray(roles, dtype=object)


def _text_rows(path: Path, columns: dict[str, str | None], options: dict | None = None) -> tuple[list[dict], list[int], str]:
    """``(rows, their line or row numbers, "line" or "data row")`` of a texts file in any of :data:`TEXT_SUFFIXES`."""
    name = path.name.lower()
    if not name.endswith(TEXT_SUFFIXES):
        raise DataError(f"{path}: unsupported file type for texts; use .jsonl, .txt, .csv, .tsv or .parquet")
    if name.endswith(".txt"):
        lines = _file_text(path).splitlines()
        numbers = [i for i, line in enumerate(lines, start=1) if line.strip()]
        return [{"text": lines[i - 1]} for i in numbers], numbers, "line"
    if name.endswith(".jsonl"):
        return (*_jsonl_rows(path, columns, options), "line")
    return (*_table_rows(path, columns, options), "data row")


def read_text_file(path: str | Path, *, text_column: str = "text", option: str = "data.path") -> list[str]:
    """Every text of one file, in the formats of :func:`load_text_data` (no ids or membership): what ``text-audit``'s
    ``--members`` and ``--nonmembers`` hold. ``option`` names where the path came from, for the not-found message.

    Blank lines of a ``.txt`` file are skipped; an empty text in JSON Lines or a table is refused, as in a config's texts.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: text file not found{' (it is a folder)' if path.is_dir() else ''}; check {option}")
    rows, numbers, where = _text_rows(path, {"text": text_column})
    if not rows:
        raise DataError(f"{path}: no texts; give at least one non-blank text")
    _check_texts(path, rows, numbers, where)
    return [r["text"] for r in rows]


def read_audit_texts(members_file: str | Path, nonmembers_file: str | Path, *, text_column: str = "text") -> tuple[list[str], list[str]]:
    """Member and non-member texts from two files (:func:`read_text_file`), refused when they share a text (naming both files)."""
    members = read_text_file(members_file, text_column=text_column, option="--members")
    nonmembers = read_text_file(nonmembers_file, text_column=text_column, option="--nonmembers")
    shared = shared_texts_error(members, nonmembers, members_name=f"{members_file} (--members)", nonmembers_name=f"{nonmembers_file} (--nonmembers)")
    if shared:
        raise DataError(shared)
    return members, nonmembers


def load_text_data(path: str | Path, *, text_column: str = "text", id_column: str | None = None, membership_column: str | None = None,
                   members_file: str | Path | None = None, nonmembers_file: str | Path | None = None, person_column: str | None = None) -> TextData:
    """Member and non-member texts from one file (see the module docstring for the formats).

    Parameters
    ----------
    path : str or Path
    text_column : str
        Field (JSON Lines) or column (tables) holding the texts; ignored for ``.txt``.
    id_column : str, optional
        Record ids (unique); the texts' positions 0, 1, 2, ... otherwise.
    membership_column : str, optional
        Membership per text; or give ``members_file`` and ``nonmembers_file`` (ids, one per line).
    person_column : str, optional
        Whose text each is (``data.person_column``: a person or author id; not empty for an audited text).
    """
    path = Path(path)
    if (membership_column is None) == (members_file is None or nonmembers_file is None):
        raise DataError(f"{path}: give membership either as a column (membership.column) or as two id files "
                        "(membership.members and membership.nonmembers), not both or neither")
    if path.name.lower().endswith(".txt") and (id_column is not None or membership_column is not None or person_column is not None):
        raise DataError(f"{path}: a .txt file holds one text per line and no columns; leave out data.id_column and membership.column "
                        "and give membership as id files (ids 0, 1, 2, ... count the non-blank lines), or use JSON Lines or CSV")
    rows, numbers, where = _text_rows(path, {"text": text_column, "id": id_column, "membership": membership_column, "person": person_column})
    if not rows:
        raise DataError(f"{path}: no texts; give at least one member and one non-member text")
    ids = (_unique_ids(path, [r["id"] for r in rows], numbers, id_column, where) if id_column is not None
           else np.arange(len(rows)).astype(str))
    if membership_column is not None:
        roles = _roles_from_column(path, [r["membership"] for r in rows], numbers, membership_column, where)
    else:
        roles = _roles_from_files(path, ids, members_file, nonmembers_file)
    used = np.flatnonzero(roles != "unused")
    _check_texts(path, [rows[i] for i in used], [numbers[i] for i in used], where)  # a text left out may be anything
    persons = None if person_column is None else _persons(path, [rows[i]["person"] for i in used], [numbers[i] for i in used], "data.person_column", where)
    texts = [r["text"] for r in rows]
    members = [texts[i] for i in np.flatnonzero(roles == "member")]
    nonmembers = [texts[i] for i in np.flatnonzero(roles == "nonmember")]
    if not members or not nonmembers:
        raise DataError(f"{path}: {len(members)} member and {len(nonmembers)} non-member texts; a text audit needs both")
    shared = shared_texts_error(members, nonmembers)
    if shared:
        raise DataError(f"{path}: {shared}")
    data = TextData(members, nonmembers, ids[roles == "member"], ids[roles == "nonmember"], source=str(path))
    if persons is not None:
        data.member_persons, data.nonmember_persons = persons[roles[used] == "member"], persons[roles[used] == "nonmember"]
    return data


def _persons(path: Path, values: list[str], numbers: list[int], option: str, where: str) -> np.ndarray:
    """The person (author) ids as an array of str, refusing an empty one."""
    for value, number in zip(values, numbers, strict=True):
        if not str(value).strip():
            raise DataError(f"{path}, {where} {number}: the person ({option}) is empty; name the person (author) of every text")
    return np.asarray([str(v) for v in values], dtype=str)


@dataclass
class Documents:
    """Documents to check: ``texts`` (list of str), ``ids`` (array of str) and ``authors`` (array of str, or None); ``source`` the file."""

    texts: list
    ids: np.ndarray
    authors: np.ndarray | None
    source: str


def _folder_documents(path: Path, author_column: str | None) -> Documents:
    """One document per ``.txt`` file of a folder (ids: the file names), in name order."""
    files = sorted(f for f in path.iterdir() if f.is_file() and f.name.lower().endswith(".txt"))
    if author_column is not None:
        raise DataError(f"{path}: a folder of documents holds one .txt file per document and no author fields; give a .jsonl file for --author-column")
    if not files:
        raise DataError(f"{path}: a folder of documents holds one .txt file per document, and it has none; put the documents there as .txt files")
    texts = [_file_text(f).strip() for f in files]
    _check_texts(path, [{"text": t} for t in texts], [f.name for f in files], "file")
    return Documents(texts, np.asarray([f.name for f in files], dtype=str), None, str(path))


def read_documents(path: str | Path, *, text_column: str = "text", author_column: str | None = None) -> Documents:
    """Documents to check from ``privaudit check --documents``: one per line of a ``.txt`` file, one JSON object per line
    (``.jsonl``, or a table), or one per ``.txt`` file of a folder (ids: the file names; no authors).

    The text is in ``text_column`` (the config's ``data.text_column``); an ``id``
    field, when the first document has one, names every document (else
    ``line-N``); ``author_column`` (``--author-column``) names whose each is.
    """
    path = Path(path)
    options = {"text": "data.text_column of the config", "person": "--author-column", "id": "the documents' 'id' field"}
    if path.is_dir():
        return _folder_documents(path, author_column)
    if not path.is_file():
        raise DataError(f"{path}: documents file not found; check --documents")
    txt = path.name.lower().endswith(".txt")
    if txt and author_column is not None:
        raise DataError(f"{path}: a .txt file holds one document per line and no fields, so --author-column cannot apply; "
                        "give the documents as JSON Lines with an author field")
    first = next((entry for _, entry in _json_lines(path)), None) if path.name.lower().endswith(".jsonl") else None
    has_id = isinstance(first, dict) and "id" in first
    rows, numbers, where = _text_rows(path, {"text": text_column, "id": "id" if has_id else None, "person": author_column}, options)
    if not rows:
        raise DataError(f"{path}: no documents; give at least one non-blank document")
    _check_texts(path, rows, numbers, where)
    ids = (_unique_ids(path, [r["id"] for r in rows], numbers, "id", where) if has_id
           else np.asarray([f"{where.split()[-1]}-{n}" for n in numbers], dtype=str))
    authors = None if author_column is None else _persons(path, [r["person"] for r in rows], numbers, "--author-column", where)
    if authors is not None:  # a repeated document would count twice in its author's statistic
        seen: dict = {}
        for row, number in zip(rows, numbers):
            if seen.setdefault(row["text"], number) != number:
                raise DataError(f"{path}, {where} {number}: the same text as {where} {seen[row['text']]}; with --author-column give each "
                                "document once (it would count twice in its author's test)")
    return Documents([r["text"] for r in rows], ids, authors, str(path))


def text_data_jsonl(ids: Sequence[str], texts: Sequence[str], is_member, persons: Sequence[str] | None = None, person_column: str = "person") -> str:
    """JSON Lines of ``{"id", "text", "member"}`` rows (member as ``"member"``/``"nonmember"``), which
    :func:`load_text_data` reads with ``id_column="id"`` and ``membership_column="member"``; with ``persons``,
    each row also names its person in ``person_column`` (read with ``person_column=...``)."""
    people = [None] * len(texts) if persons is None else [str(p) for p in persons]
    return "".join(json.dumps({"id": str(i), "text": str(t), "member": "member" if m else "nonmember",
                               **({} if p is None else {person_column: p})}, ensure_ascii=False) + "\n"
                   for i, t, m, p in zip(ids, texts, is_member, people, strict=True))


def read_canaries(path: str | Path) -> tuple[list, np.ndarray]:
    """Canaries and their coin flips from JSON Lines ``{"prefix", "secret", "suffix" (optional), "inserted"}``.

    Returns ``(canaries, inserted)``: a list of :class:`privaudit.text.canaries.Canary`
    and a bool array of shape (n_canaries,).
    """
    from privaudit.text.canaries import Canary

    path = Path(path)
    canaries, inserted = [], []
    for number, entry in _json_lines(path):
        fix = 'give one object per line: {"prefix": "Ann\'s PIN is ", "secret": "123456", "suffix": "", "inserted": true}'
        if not isinstance(entry, dict):
            raise DataError(f"{path}, line {number}: not a JSON object; {fix}")
        unknown = sorted(set(entry) - {"prefix", "secret", "suffix", "inserted"})
        if unknown:
            raise DataError(f"{path}, line {number}: unknown field(s) {', '.join(map(repr, unknown))}; {fix}")
        if not all(isinstance(entry.get(k, ""), str) for k in ("prefix", "secret", "suffix")) or not entry.get("secret"):
            raise DataError(f"{path}, line {number}: 'prefix' and 'secret' must be strings, 'secret' non-empty; {fix}")
        if not isinstance(entry.get("inserted"), bool):
            raise DataError(f"{path}, line {number}: 'inserted' must be true or false (was the canary put into the training data?); {fix}")
        canaries.append(Canary(entry.get("prefix", ""), entry["secret"], entry.get("suffix", "")))
        inserted.append(entry["inserted"])
    if not canaries:
        raise DataError(f"{path}: no canaries; give one JSON object per line, or remove the target's 'canaries' block")
    return canaries, np.asarray(inserted, dtype=bool)


def canaries_jsonl(canaries, inserted) -> str:
    """The JSON Lines :func:`read_canaries` reads."""
    return "".join(json.dumps({"prefix": c.prefix, "secret": c.secret, "suffix": c.suffix, "inserted": bool(flag)}, ensure_ascii=False) + "\n"
                   for c, flag in zip(canaries, inserted, strict=True))
