"""Temporary entries named after the process writing them, and how to tell that their writer is gone.

A writer that may be killed half-way (a reference model being stored in
:mod:`privaudit.reference.store`) writes under ``.tmp-<host>-<pid>-<random>`` and renames
into place. Whoever finds such an entry later removes it only when
:func:`writer_gone` says so: its writer on this host is dead, or it is older
than :data:`STALE_AFTER_S` seconds.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from pathlib import Path

__all__ = ["TMP_PREFIX", "STALE_AFTER_S", "temporary_name", "writer_gone", "process_alive"]

#: Every temporary entry's name starts with this.
TMP_PREFIX = ".tmp-"
#: Seconds after which a temporary entry is litter whoever wrote it.
STALE_AFTER_S = 24 * 3600.0


def temporary_name() -> str:
    """``.tmp-<host>-<pid>-<32 hex digits>``: a fresh name for this process's temporary entry."""
    return f"{TMP_PREFIX}{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex}"


def writer_gone(name: str, mtime: float) -> bool:
    """A temporary entry (``name`` from :func:`temporary_name`, maybe with ``.npy``/``.json``; ``mtime`` in
    seconds since the epoch) is litter if its writer (same host) is dead, or it is older than a day."""
    if time.time() - mtime > STALE_AFTER_S:
        return True
    rest = name[len(TMP_PREFIX):]
    if rest.endswith((".npy", ".json")):
        rest = rest.rsplit(".", 1)[0]
    parts = rest.rsplit("-", 2)
    if len(parts) != 3 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return False
    return not process_alive(int(parts[1]))


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` on this host still runs (a zombie counts as dead)."""
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    try:  # Linux: a killed writer nobody has reaped yet is a zombie, as dead as it gets
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return True
