"""A sweep's per-setting results on disk: written atomically, read back only when intact.

``settings/<name>/model.safetensors`` is written first, ``result.json`` last,
each to a temporary name (``.privaudit-tmp-<uuid>-<name>``, see
:mod:`privaudit.output_folder`) and renamed with ``os.replace``; a result counts only when
its ``format`` is current and its weights match the SHA-256 it records.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from privaudit.output_folder import write_file_atomic

__all__ = ["SETTING_FORMAT", "RESULT_FILE", "WEIGHTS_FILE", "write_atomic", "clean_temporary", "read_result", "find_trained"]

#: Bumped when ``result.json``'s layout or the fingerprint's contents change (old results are then redone).
SETTING_FORMAT = 1
RESULT_FILE = "result.json"
WEIGHTS_FILE = "model.safetensors"


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, fsync, then rename it over ``path``
    (:func:`privaudit.output_folder.write_file_atomic`)."""
    write_file_atomic(path, data)


def clean_temporary(folder: Path) -> None:
    """Remove temporary files whose writer has gone (a run killed mid-write)."""
    from privaudit.writer_temporaries import TMP_PREFIX, writer_gone

    if not folder.is_dir():
        return
    for entry in folder.rglob(f"{TMP_PREFIX}*"):
        try:
            if entry.is_file() and writer_gone(entry.name, entry.lstat().st_mtime):
                entry.unlink()
        except FileNotFoundError:
            pass


def read_result(folder: Path) -> dict | None:
    """A setting's saved result, or None when missing, unreadable or its weights do not match their recorded hash."""
    try:
        saved = json.loads((folder / RESULT_FILE).read_text())
        weights = (folder / saved["weights"]["file"]).read_bytes()
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if saved.get("format") != SETTING_FORMAT or hashlib.sha256(weights).hexdigest() != saved["weights"].get("sha256"):
        return None
    return saved


def find_trained(settings_dir: Path, training_key: str) -> tuple[dict, bytes] | None:
    """A finished setting (of this run or an earlier one) whose target trained exactly like this one, with its weights."""
    if not settings_dir.is_dir():
        return None
    for folder in sorted(p for p in settings_dir.iterdir() if p.is_dir()):
        saved = read_result(folder)
        if saved is not None and saved.get("training_key") == training_key:
            return saved, (folder / saved["weights"]["file"]).read_bytes()
    return None
