"""A crash-safe on-disk cache of a prediction API's answers, one JSON file per request body.

Layout under ``root``::

    <key>.json          {"format", "key", "output_kind", "shape", "values"} for one answered batch
    .tmp-<pid>-<uuid>   a file being written

``<key>`` is the SHA-256 of the endpoint URL, protocol, model name, output
kind, response path and the SHA-256 of the exact request body — never of
headers, so no secret is part of a key or a file. Each file is written to a
temporary name and renamed in one ``os.replace``: a run killed at any point
leaves complete answers or none, and a rerun re-sends only the batches that
have no file. A file is trusted only if it names its own key and has the
shape the batch needs; anything else is refused with the path to delete.
Values are JSON numbers (Python writes the shortest text that reads back to
the same double) or label texts; nothing is pickled.

Example
-------
>>> import tempfile, numpy as np
>>> cache = ResponseCache(tempfile.mkdtemp())
>>> key = cache_key(url="http://127.0.0.1:8000/invocations", protocol="mlflow", model_name=None,
...                 output_kind="probabilities", response_path="$.predictions", body_digest="0" * 64)
>>> cache.load(key, n_records=1, output_kind="probabilities") is None
True
>>> cache.save(key, np.array([[0.25, 0.75]]), "probabilities")
>>> cache.load(key, n_records=1, output_kind="probabilities").tolist()
[[0.25, 0.75]]
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path

import numpy as np

from privaudit.exceptions import DataError

__all__ = ["ResponseCache", "cache_key", "CACHE_FORMAT"]

#: Part of every key: bump when the file layout or the decoding changes.
CACHE_FORMAT = 1


def cache_key(*, url: str, protocol: str, model_name: str | None, output_kind: str, response_path: str, body_digest: str) -> str:
    """SHA-256 hex of what decides an answer: endpoint, protocol, model, output kind, response path and request body digest."""
    payload = {
        "format": CACHE_FORMAT, "url": url, "protocol": protocol, "model_name": model_name,
        "output_kind": output_kind, "response_path": response_path, "body": body_digest,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class ResponseCache:
    """Answers of one or more APIs under ``root`` (see the module docstring)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, key: str) -> Path:
        return self.root / f"{key}.json"

    def load(self, key: str, *, n_records: int, output_kind: str) -> np.ndarray | list[str] | None:
        """The cached answer for ``key`` (float64 ``(n, C)`` or ``n`` label texts), or ``None`` if there is none."""
        path = self.path(key)
        if (path.exists() or path.is_symlink()) and not path.is_file():  # a FIFO would block the read forever
            raise DataError(f"{path}: not a regular file, so not a cached answer; delete it to query the API again")
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise DataError(f"{path}: unreadable cached answer ({exc}); delete it to query the API again") from None
        try:
            entry = json.loads(text)
            shape, values = entry["shape"], entry["values"]
            ok = entry.get("format") == CACHE_FORMAT and entry.get("key") == key and entry.get("output_kind") == output_kind and shape[0] == n_records
        except (ValueError, KeyError, TypeError, IndexError):
            ok = False
        if not ok:
            raise DataError(f"{path}: not a cached answer for this batch ({n_records} records, {output_kind}); delete it to query the API again")
        if output_kind == "labels":
            return [str(v) for v in values]
        return np.asarray(values, dtype=np.float64).reshape(shape)

    def save(self, key: str, outputs, output_kind: str) -> None:
        """Write one answer atomically (temporary file, fsync, ``os.replace``)."""
        self.root.mkdir(parents=True, exist_ok=True)
        if output_kind == "labels":
            shape, values = [len(outputs)], [str(v) for v in outputs]
        else:
            array = np.asarray(outputs, dtype=np.float64)
            shape, values = list(array.shape), array.tolist()
        entry = {"format": CACHE_FORMAT, "key": key, "output_kind": output_kind, "shape": shape, "values": values}
        tmp = self.root / f".tmp-{os.getpid()}-{uuid.uuid4().hex}"
        try:
            with open(tmp, "w", encoding="utf-8") as handle:
                json.dump(entry, handle, separators=(",", ":"), allow_nan=False)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path(key))
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
