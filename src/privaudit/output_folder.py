"""Every folder of outputs privaudit writes goes through :class:`OutputFolder`: atomic, locked and owned.

The rules (the README's output section states them for users):

* **Atomic, never mixed.** A run's files are written to temporary names in
  their final folders (``.privaudit-tmp-<run id>-<name>``), and only when all
  of them are complete are they renamed into place (``os.replace``, atomic on
  one file system), then ``manifest.json`` is written last with the run id,
  the command, the time and each file's SHA-256. A run that fails before its
  commit (say while drawing the HTML) leaves the folder exactly as it was.
  During the commit the manifest first drops the names being replaced
  (``"state": "writing"``), so at every moment each file the manifest lists
  has the hash it states; :func:`verify_manifest` checks that.
* **Locked.** ``.privaudit.lock`` (created with ``O_CREAT | O_EXCL``, holding
  the pid, host, command and time) is held from the start of a run to its
  end: a second run into the same folder fails at once with
  :class:`~privaudit.exceptions.OutputError` naming the folder and the other
  run's pid. A lock left by a dead process on this host is taken over with a
  note.
* **Owned.** privaudit writes only into a folder that is new, empty, or holds
  a ``manifest.json`` of its own; and it replaces a file only when the
  manifest lists it with the hash it has now (a file privaudit wrote and
  nobody edited) or when it lies under a sub-folder privaudit owns (a
  reference-model store, a sweep's ``settings/``). Anything else — a user's
  ``config.yaml``, an edited config, a folder privaudit did not create — is
  refused with a one-line error unless ``force=True`` (``--force``), and even
  then only the names the run writes are replaced; other files are never
  touched.

Example::

    with OutputFolder("privaudit-report", command="audit", names=["report.json"]) as folder:
        folder.write_text("report.json", "{}")
    # commit on a clean exit; on an exception the staged files are discarded
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable

from privaudit.exceptions import OutputError
from privaudit.output_files import TEMPORARY_PREFIX, check_output_file, file_sha256, unwritable_error, write_file_atomic
from privaudit.output_lock import LOCK_FILE, FolderLock

__all__ = ["OutputFolder", "MANIFEST_FILE", "LOCK_FILE", "TEMPORARY_PREFIX", "write_file_atomic", "verify_manifest", "read_manifest",
           "check_output_file", "unwritable_error"]

MANIFEST_FILE = "manifest.json"
#: marks a manifest as privaudit's; bumped if its layout changes
MANIFEST_FORMAT = 1
#: a manifest larger than this is not one of ours (ours list a handful of files)
_MAX_MANIFEST_BYTES = 16 << 20
#: entries that never make a folder "not empty" (our own bookkeeping)
_BOOKKEEPING = (LOCK_FILE,)


def read_manifest(folder: str | Path) -> dict | None:
    """The folder's privaudit manifest, or None when there is none (or the ``manifest.json`` there is not privaudit's)."""
    try:
        path = Path(folder) / MANIFEST_FILE
        if not path.is_file():  # a FIFO there would block the read forever; a device could fill memory
            return None
        with open(path, "rb") as handle:
            raw = handle.read(_MAX_MANIFEST_BYTES + 1)
        if len(raw) > _MAX_MANIFEST_BYTES:
            return None
        document = json.loads(raw.decode("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(document, dict) or document.get("privaudit_manifest") != MANIFEST_FORMAT or not isinstance(document.get("files"), dict):
        return None
    return document


def verify_manifest(folder: str | Path) -> list[str]:
    """Problems with a folder's manifest: listed files missing or whose SHA-256 differs. Empty when all match.

    Files a user edited after privaudit wrote them show up here too, as they should.
    """
    folder = Path(folder)
    manifest = read_manifest(folder)
    if manifest is None:
        return [f"{folder}: no privaudit {MANIFEST_FILE}"]
    problems = []
    for name, entry in sorted(manifest["files"].items()):
        path = folder / name
        if not path.is_file():
            problems.append(f"{path}: listed in {MANIFEST_FILE} but missing")
        elif file_sha256(path) != entry.get("sha256"):
            problems.append(f"{path}: content differs from the SHA-256 in {MANIFEST_FILE}")
    return problems


class OutputFolder:
    """One run's writes into one output folder: ownership check, lock, staged files, commit with a manifest.

    Parameters
    ----------
    path : str or Path
        The output folder (created if needed).
    command : str
        What is writing (``"audit"``, ``"demo"``, ...), recorded in the manifest and the lock.
    names : iterable of str
        Relative paths (``/``-separated) the run will write; a name ending in
        ``/`` claims a whole sub-folder (written by code that manages it, such
        as the reference-model store). Checked against ownership on
        :meth:`open`; more can be claimed later with :meth:`claim`.
    force : bool
        Write into a folder privaudit did not create, and replace the claimed
        names even when they are the user's. Other files are left alone.
    note : callable, optional
        Called with one-line notes (a stale lock taken over). Default: stderr.
    what : str
        How messages name the folder (``"--out"``, ``"output folder"``).
    """

    def __init__(self, path: str | Path, *, command: str, names: Iterable[str] = (), force: bool = False,
                 note: Callable[[str], None] | None = None, what: str = "output folder") -> None:
        self.path, self.command, self.force, self.what = Path(path), command, force, what
        self.run_id = f"{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%SZ')}-{uuid.uuid4().hex[:12]}"
        self._names: list[str] = []
        self._note = note or (lambda message: print(f"privaudit: note: {message}", file=sys.stderr))
        self._staged: dict[str, Path] = {}
        self._written: set[str] = set()
        self._lock: FolderLock | None = None
        self._created = False
        self._pending_names = list(names)

    # -- ownership ------------------------------------------------------------------
    def _label(self) -> str:
        return f"{self.what} {self.path}"

    def _refusal(self, reason: str, *, file: bool = True) -> OutputError:
        fix = ("move it away, write into another folder, or pass --force (force=True from Python) to replace it" if file else
               "write into a new or empty folder, or pass --force (force=True from Python) to write there anyway (only privaudit's own output names are replaced)")
        return OutputError(f"{self._label()}: {reason}; {fix}")

    def _check_ownership(self, names: Iterable[str]) -> None:
        if not self.path.exists():
            return
        if not self.path.is_dir():
            raise OutputError(f"{self._label()}: a file, not a folder; give a folder path")
        if self.force:
            return
        try:
            entries = [p.name for p in self.path.iterdir() if p.name not in _BOOKKEEPING and not p.name.startswith(TEMPORARY_PREFIX)]
        except OSError as exc:
            raise unwritable_error(self.path, exc, self.what) from None
        manifest = read_manifest(self.path)
        if manifest is None:
            if entries:
                shown = ", ".join(sorted(entries)[:3]) + (", ..." if len(entries) > 3 else "")
                raise self._refusal(f"the folder is not empty ({shown}) and privaudit did not create it (no {MANIFEST_FILE} of ours)", file=False)
            return
        owned = set(manifest.get("owned") or [])
        for name in names:
            target = self.path / name
            if name.endswith("/"):
                if target.exists() and name not in owned:
                    raise self._refusal(f"{name} exists and was not written by privaudit")
                continue
            if any(name.startswith(prefix) for prefix in owned) or not (target.exists() or target.is_symlink()):
                continue
            entry = manifest["files"].get(name)
            if entry is None:
                raise self._refusal(f"{name} exists and was not written by privaudit")
            if not target.is_file() or file_sha256(target) != entry.get("sha256"):
                raise self._refusal(f"{name} was changed since privaudit wrote it (edited?)")

    def _release(self) -> None:
        if self._lock is None:
            return
        self._lock.release()
        self._lock = None
        try:
            if self._created and not any(self.path.iterdir()):
                self.path.rmdir()  # a folder this run created and left empty (the run failed before writing)
        except OSError:
            pass

    # -- life cycle -------------------------------------------------------------------
    def open(self) -> "OutputFolder":
        """Check ownership, create the folder, take the lock, claim the names. Raises :class:`OutputError`."""
        names = self._pending_names
        self._check_ownership(names)  # before writing anything: a refusal leaves the folder untouched
        self._created = not self.path.exists()
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise unwritable_error(self.path, exc, self.what) from None
        lock = FolderLock(self.path, command=self.command, run_id=self.run_id, label=self._label(), note=self._note)
        try:
            lock.acquire()
        except OutputError:
            raise
        except OSError as exc:
            raise unwritable_error(self.path, exc, self.what) from None
        self._lock = lock
        try:
            self.claim(*names)  # checked again under the lock: another run may have written meanwhile
            self._clean_temporary(names)
        except BaseException:
            self._release()
            raise
        return self

    def claim(self, *names: str) -> None:
        """Declare more names this run writes; each is checked against ownership now (:class:`OutputError`).

        Nothing is written here. Before the run's first immediate write
        (:meth:`write_now`), a folder new to privaudit gets a manifest (``"state": "writing"``, no files) and a
        sub-folder claim (``name/``) is recorded in it, so that a run killed
        half-way leaves a folder privaudit can rerun into.
        """
        new = [n for n in names if n not in self._names]
        self._check_ownership(new)
        self._names.extend(new)

    def _record_claims(self) -> None:
        manifest = read_manifest(self.path)
        prefixes = [n for n in self._names if n.endswith("/")]
        if manifest is not None and all(p in (manifest.get("owned") or []) for p in prefixes):
            return
        base = manifest or {"files": {}, "owned": [], "state": "writing", "run_id": self.run_id, "command": self.command, "written_at": _now()}
        base["owned"] = sorted(set(base.get("owned") or []) | set(prefixes))
        self._write_manifest(base)

    def _clean_temporary(self, names: Iterable[str]) -> None:
        """Remove temporary files of earlier runs that died (we hold the lock: no live run owns them)."""
        folders = {self.path} | {(self.path / n).parent for n in names if not n.endswith("/")}
        entries = [entry for folder in folders if folder.is_dir() for entry in folder.glob(f"{TEMPORARY_PREFIX}*")]
        entries += [entry for n in names if n.endswith("/") and (self.path / n).is_dir() for entry in (self.path / n).rglob(f"{TEMPORARY_PREFIX}*")]
        for entry in entries:
            if entry.is_file():
                entry.unlink(missing_ok=True)

    def __enter__(self) -> "OutputFolder":
        return self.open() if self._lock is None else self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                self.commit()
            else:
                self.discard()
        finally:
            self._release()

    def close(self) -> None:
        """Discard whatever is staged and not committed, and release the lock."""
        self.discard()
        self._release()

    # -- writing --------------------------------------------------------------------
    def stage_path(self, name: str) -> Path:
        """A temporary path for ``name``, for writers that need a path (Parquet, safetensors, skops); renamed in on commit."""
        if name not in self._names:
            self.claim(name)
        final = self.path / name
        final.parent.mkdir(parents=True, exist_ok=True)
        if name in self._staged:
            self._staged[name].unlink(missing_ok=True)
        tmp = final.parent / f"{TEMPORARY_PREFIX}{self.run_id}-{final.name}"
        self._staged[name] = tmp
        return tmp

    def write_bytes(self, name: str, data: bytes) -> Path:
        """Stage ``data`` as ``name``; returns the final path (written on :meth:`commit`)."""
        with _as_output_error(self.path, self.what):
            tmp = self.stage_path(name)
            with open(tmp, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        return self.path / name

    def write_text(self, name: str, text: str) -> Path:
        """Stage ``text`` (UTF-8) as ``name``; returns the final path."""
        return self.write_bytes(name, text.encode("utf-8"))

    def write_now(self, name: str, data: bytes) -> Path:
        """Write ``name`` atomically at once and list it in the manifest at once (for resumable outputs, such as a sweep's settings)."""
        if name not in self._names:
            self.claim(name)
        with _as_output_error(self.path, self.what):
            self._record_claims()
            path = write_file_atomic(self.path / name, data)
            manifest = read_manifest(self.path) or {"files": {}, "owned": []}
            manifest["files"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data), "run_id": self.run_id}
            self._write_manifest({**manifest, "state": "writing"})
        self._written.add(name)
        return path

    def discard(self) -> None:
        """Delete staged files that were not committed."""
        for tmp in self._staged.values():
            tmp.unlink(missing_ok=True)
            if self._created and tmp.parent != self.path:
                try:  # a sub-folder this run made for the staged file, left empty
                    tmp.parent.rmdir()
                except OSError:
                    pass
        self._staged.clear()

    def commit(self, *, remove: Iterable[str] = ()) -> dict[str, Path]:
        """Rename every staged file into place, delete ``remove`` (our own stale files), then write the manifest last.

        Returns the final paths of the files committed, by name.
        """
        with _as_output_error(self.path, self.what):
            return self._commit(remove)

    def _commit(self, remove: Iterable[str]) -> dict[str, Path]:
        remove = list(remove)
        if not self._staged and not self._written and not remove:
            return {}
        manifest = read_manifest(self.path) or {"privaudit_manifest": MANIFEST_FORMAT, "files": {}, "owned": []}
        manifest["owned"] = sorted(set(manifest.get("owned") or []) | {n for n in self._names if n.endswith("/")})
        staged = dict(self._staged)
        entries = {name: {"sha256": file_sha256(tmp), "bytes": tmp.stat().st_size, "run_id": self.run_id} for name, tmp in staged.items()}
        entries.update({name: {"sha256": file_sha256(self.path / name), "bytes": (self.path / name).stat().st_size, "run_id": self.run_id}
                        for name in self._written if (self.path / name).is_file()})
        removed = [name for name in remove if name in manifest["files"] and name not in staged]
        files = {name: entry for name, entry in manifest["files"].items()
                 if name not in entries and name not in removed and (self.path / name).is_file()}
        self._write_manifest({**manifest, "files": files, "state": "writing", "run_id": self.run_id, "command": self.command,
                              "written_at": _now()})
        for name in removed:
            (self.path / name).unlink(missing_ok=True)
        for name, tmp in staged.items():
            os.replace(tmp, self.path / name)
            del self._staged[name]
        self._written.clear()
        files.update(entries)
        self._write_manifest({**manifest, "files": dict(sorted(files.items())), "state": "complete", "run_id": self.run_id,
                              "command": self.command, "written_at": _now()})
        return {name: self.path / name for name in entries}

    def _write_manifest(self, document: dict) -> None:
        document = {"privaudit_manifest": MANIFEST_FORMAT, **{k: v for k, v in document.items() if k != "privaudit_manifest"}}
        write_file_atomic(self.path / MANIFEST_FILE, (json.dumps(document, indent=1, ensure_ascii=False) + "\n").encode("utf-8"))


@contextmanager
def _as_output_error(path: Path, what: str):
    """Turn an OS error while writing under ``path`` into a one-line :class:`OutputError` (exit 1: the environment)."""
    try:
        yield
    except OutputError:
        raise
    except OSError as exc:
        raise unwritable_error(path, exc, what) from None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
