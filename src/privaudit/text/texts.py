"""Read texts to audit from a file: one text per line (.txt), JSON Lines with a ``text`` field (.jsonl), or a CSV ``text`` column."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from privaudit.exceptions import ConfigError, DataError

__all__ = ["read_texts", "write_texts"]


def read_texts(path: str | Path, *, field: str = "text") -> list[str]:
    """Texts of ``path``; blank lines and blank texts are dropped.

    ``.txt``: one text per line (a text cannot hold a newline; use JSON Lines
    for that). ``.jsonl``: one JSON object per line, text in ``field``.
    ``.csv``: the ``field`` column.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"text file {path} not found")
    suffix = path.suffix.lower()
    if suffix == ".txt":
        texts = path.read_text(encoding="utf-8").splitlines()
    elif suffix == ".jsonl":
        texts = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                texts.append(str(json.loads(line)[field]))
            except (json.JSONDecodeError, KeyError, TypeError):
                raise DataError(f"{path}, line {number}: expected a JSON object with a '{field}' field") from None
    elif suffix == ".csv":
        frame = pd.read_csv(path)
        if field not in frame.columns:
            raise DataError(f"{path}: no '{field}' column (columns: {', '.join(map(str, frame.columns))})")
        texts = frame[field].dropna().astype(str).tolist()
    else:
        raise ConfigError(f"{path}: give texts as .txt (one per line), .jsonl or .csv")
    texts = [t for t in texts if t.strip()]
    if not texts:
        raise DataError(f"{path}: no texts")
    return texts


def write_texts(texts, path: str | Path) -> Path:
    """Write texts as JSON Lines (``{"text": ...}`` per line), the format that keeps any text intact."""
    path = Path(path)
    path.write_text("".join(json.dumps({"text": str(t)}, ensure_ascii=False) + "\n" for t in texts), encoding="utf-8")
    return path
