"""Writing one output file safely: atomically, never over a user's file, with one-line errors.

Used by :class:`~privaudit.output_folder.OutputFolder` (a folder of outputs)
and by the commands that write a single file (``model-card --out``,
``serve-example``'s ``http-audit.yaml``).
"""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

from privaudit.exceptions import OutputError

__all__ = ["TEMPORARY_PREFIX", "write_file_atomic", "unwritable_error", "check_output_file", "file_sha256"]

#: temporary files privaudit writes before renaming them into place start with this
TEMPORARY_PREFIX = ".privaudit-tmp-"


def file_sha256(path: Path) -> str:
    """SHA-256 hex of a file's bytes, read in 1 MiB blocks (manifests, the reference store's content hashes)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def unwritable_error(path: Path, exc: OSError, what: str) -> OutputError:
    """The :class:`OutputError` for ``path`` the OS would not let us write (``exc``): exit 1 (the environment),
    or exit 2 when a part of the path is a file (a user mistake). ``what`` names it (``"--out"``)."""
    if isinstance(exc, (NotADirectoryError, FileExistsError)):
        return OutputError(f"{what} {path}: a part of this path is a file, not a folder; give a folder path")
    error = OutputError(f"{what} {path} cannot be written ({exc.strerror or exc}); choose a folder you can write to")
    error.exit_code = 1
    return error


def write_file_atomic(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to a temporary file beside ``path``, fsync, then rename it over ``path``; returns ``path``.

    A crash at any point leaves either the old file or the new one, never a
    half-written file under ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f"{TEMPORARY_PREFIX}{uuid.uuid4().hex}-{path.name}"
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def check_output_file(path: str | Path, *, marker: str, force: bool = False, what: str = "--out") -> Path:
    """Refuse to overwrite an existing file that privaudit did not write (for one-file outputs such as a model card).

    ``marker`` is text privaudit puts in the first five lines of such a file; an existing file without
    it is the user's and is replaced only with ``force``. A folder or a path under a file is refused.
    """
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{what} {path}: a folder, not a file; give a file path")
    if path.exists() and not path.is_file():
        # a FIFO would block the read below, /dev/zero or /dev/full would fill memory, and --force would rename over a device
        raise OutputError(f"{what} {path}: not a regular file (a device, pipe or socket); give the path of a file")
    if path.exists() and not force:
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                head = [handle.readline(4096) for _ in range(5)]
        except OSError as exc:
            raise unwritable_error(path, exc, what) from None
        if not any(marker in line for line in head):
            raise OutputError(f"{what} {path}: the file exists and was not written by privaudit; choose another file or pass --force to overwrite it")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise OutputError(f"{what} {path}: {parent} is a file, not a folder; give a path in a folder")
            break
    return path
