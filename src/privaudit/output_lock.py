"""The lock file that keeps two privaudit runs out of one output folder (used by :class:`~privaudit.output_folder.OutputFolder`).

``.privaudit.lock`` holds JSON: pid, host, command, run id and start time. It
is created exclusively — written under a temporary name, then hard-linked to
the lock's name (``link`` fails when the name exists, like
``O_CREAT | O_EXCL``, and the lock is never seen empty); where hard links are
not supported, ``O_CREAT | O_EXCL`` itself. A lock whose pid is no longer
running on this host is stale and is taken over with a note; any other
existing lock makes :meth:`FolderLock.acquire` fail at once with an
:class:`~privaudit.exceptions.OutputError` naming the folder and the other
run's pid.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from privaudit.exceptions import OutputError

__all__ = ["LOCK_FILE", "FolderLock"]

LOCK_FILE = ".privaudit.lock"


def _read_lock(path: Path) -> bytes:
    """A lock file's content: a regular file, at most 64 KiB (a FIFO put there would block a plain read forever,
    and /dev/zero would fill memory); anything else is an :class:`OSError`, reported as an unreadable lock."""
    if not path.is_file():
        if not path.exists() and not path.is_symlink():
            raise FileNotFoundError(path)
        raise OSError(f"{path} is not a regular file")
    with open(path, "rb") as handle:
        return handle.read(1 << 16)


class FolderLock:
    """An exclusive lock on ``folder`` for one run (``run_id``); ``label`` names the folder in messages."""

    def __init__(self, folder: Path, *, command: str, run_id: str, label: str, note: Callable[[str], None]) -> None:
        self.path = Path(folder) / LOCK_FILE
        self.command, self.run_id, self.label, self.note = command, run_id, label, note
        self.held = False

    def _create(self, body: bytes) -> bool:
        """Create the lock file holding ``body``; False when it already exists."""
        tmp = self.path.parent / f".privaudit-tmp-{uuid.uuid4().hex}.lock"
        try:
            with open(tmp, "wb") as handle:
                handle.write(body)
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(tmp, self.path)
                return True
            except FileExistsError:
                return False
            except OSError:  # no hard links here: exclusive create, then write
                try:
                    handle = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
                except FileExistsError:
                    return False
                try:
                    os.write(handle, body)
                finally:
                    os.close(handle)
                return True
        finally:
            tmp.unlink(missing_ok=True)

    def acquire(self) -> None:
        """Take the lock, taking over a stale one; :class:`OutputError` when another live run holds it."""
        from privaudit.writer_temporaries import process_alive

        body = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "command": self.command, "run_id": self.run_id,
                           "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}).encode()
        for _ in range(3):
            if self._create(body):
                self.held = True
                return
            try:
                raw = _read_lock(self.path)
                holder = json.loads(raw)
                pid, host = int(holder["pid"]), str(holder["host"])
            except FileNotFoundError:
                continue  # released meanwhile: try again
            except (OSError, ValueError, KeyError, TypeError):
                raise OutputError(f"{self.label} is locked by another privaudit run ({self.path} is unreadable); "
                                  f"wait for that run to finish, or delete {self.path} if no privaudit run is writing there") from None
            if host == socket.gethostname() and not process_alive(pid):
                try:
                    if _read_lock(self.path) == raw:  # still the stale one: take it over
                        self.path.unlink()
                        self.note(f"{self.path}: took over a stale lock of privaudit run pid {pid}, which is no longer running")
                except FileNotFoundError:
                    pass
                continue
            raise OutputError(f"{self.label} is in use by another privaudit run (pid {pid} on {host}, {holder.get('command', '?')}); "
                              f"wait for it to finish or choose another folder (if that run is gone, delete {self.path})")
        raise OutputError(f"{self.label}: could not take the lock {self.path}; try again")

    def release(self) -> None:
        """Remove the lock file if this run holds it."""
        if not self.held:
            return
        self.held = False
        try:
            if json.loads(_read_lock(self.path)).get("run_id") == self.run_id:
                self.path.unlink()
        except (OSError, ValueError, AttributeError):
            pass
