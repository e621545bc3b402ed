"""A content-addressed, crash-safe store of reference models and their outputs.

Layout under ``root``::

    .privaudit-store.json            marks the folder as a store (format, id)
    <key>/                           one finished model; <key> = sha256 of its recipe, data, seed, code version
        meta.json                    key, format, privaudit version, seed, training-set digest, output kind,
                                     and ``files``: the sha256 of every file under model/
        model/                       what the recipe saved (model.skops or model.safetensors); no pickle
        outputs-<query>.npy          float64 (n_query, n_classes) on one query set (<query> = its digest)
        outputs-<query>.json         key, query digest, shape and sha256 of that array file
    .tmp-<host>-<pid>-<uuid>/        a model being written

Atomicity: a model is written into a ``.tmp-…`` folder and renamed to
``<key>/`` in one ``os.replace``; outputs added later are written to a
temporary file in ``<key>/`` and renamed. A run killed at any point (Ctrl-C,
``kill -9``) leaves at worst temporary litter — ignored by readers and removed
by :meth:`ReferenceStore.clean_temporary` once its writer is gone — and never
a half-written model. Readers check ``meta.json`` and the outputs' sidecar
against the key and expected shape, and refuse mismatches instead of trusting
any file that merely has the right shape. Arrays are read with
``allow_pickle=False``.

Integrity: every file under ``model/`` and every outputs array carries the
SHA-256 of its bytes, recorded when it was written; loading recomputes it and
raises :class:`~privaudit.exceptions.IntegrityError` naming the file on any
mismatch (a truncated ``model.skops`` or ``model.safetensors``, altered
outputs), with the fix: delete that model's folder (it is retrained) or that
outputs file (it is recomputed). The hashes catch corruption and accidental
edits, not a forger who rewrites the hash beside the file. Stores written
before hashes existed (format 1) are refused as a whole, with a message
saying to delete the folder or point ``compute.store`` elsewhere;
their entries could not be verified, so nothing is silently reused.

Record ids are taken to identify records, and the training rows' content
(features and labels) is hashed into the key too, so edited data is retrained.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from privaudit._version import __version__
from privaudit.exceptions import DataError, IntegrityError, OutputError, PrivauditError
from privaudit.output_files import file_sha256
from privaudit.writer_temporaries import TMP_PREFIX, temporary_name, writer_gone

__all__ = ["ReferenceStore", "STORE_FORMAT", "records_digest", "model_files", "load_model_files", "file_sha256"]

#: Bumped whenever the layout or the key's contents change; part of every key.
STORE_FORMAT = 2  # 2: content hashes of model files and outputs
_MARKER = ".privaudit-store.json"


def _canonical(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def records_digest(records, *, sort_by_id: bool = False) -> str:
    """SHA-256 over record ids, labels and feature values, in order (or sorted by id)."""
    ids = np.asarray(records.ids).astype(str)
    order = np.argsort(ids, kind="stable") if sort_by_id else np.arange(ids.size)
    features = records.features
    rows = pd.util.hash_pandas_object(features, index=False).to_numpy() if features.shape[1] else np.zeros(ids.size, np.uint64)
    digest = hashlib.sha256()
    digest.update(_canonical({"ids": ids[order].tolist(), "columns": [str(c) for c in features.columns], "classes": [str(c) for c in records.classes]}))
    digest.update(np.ascontiguousarray(np.asarray(records.labels, dtype=np.int64)[order]).tobytes())
    digest.update(np.ascontiguousarray(rows[order].astype(np.uint64)).tobytes())
    return digest.hexdigest()


def _write_array(path: Path, array: np.ndarray) -> str:
    """Write ``array`` as float64 .npy (fsynced); returns the file's sha256."""
    with open(path, "wb") as handle:
        np.save(handle, np.ascontiguousarray(array, dtype=np.float64), allow_pickle=False)
        handle.flush()
        os.fsync(handle.fileno())
    return file_sha256(path)


def _outputs_sidecar(key: str, query: str, array: np.ndarray, sha256: str) -> str:
    return json.dumps({"key": key, "query": query, "shape": list(np.shape(array)), "sha256": sha256})


def _check_hash(path: Path, expected, fix: str) -> None:
    if not isinstance(expected, str) or len(expected) != 64:
        raise IntegrityError(f"{path}: no content hash was recorded for it, so it cannot be verified; {fix}")
    try:
        actual = file_sha256(path)
    except OSError as exc:
        raise IntegrityError(f"{path}: cannot be read to verify it ({exc.strerror or exc}); {fix}") from None
    if actual != expected:
        raise IntegrityError(f"{path}: content does not match the sha256 recorded when it was written (truncated or altered); {fix}")


def model_files(recipe, model, meta: dict, outputs: Mapping[str, np.ndarray]) -> dict[str, bytes]:
    """Everything a model's folder holds, as ``{relative path: bytes}`` (for workers that cannot reach the store)."""
    with tempfile.TemporaryDirectory(prefix="privaudit-model-") as tmp:
        _write_model_dir(Path(tmp), recipe, model, meta, outputs)
        return {p.relative_to(tmp).as_posix(): p.read_bytes() for p in sorted(Path(tmp).rglob("*")) if p.is_file()}


def load_model_files(recipe, files: Mapping[str, bytes]):
    """Load a model from ``{relative path: bytes}`` of its ``model/`` folder (see :meth:`ReferenceStore.read_model_files`)."""
    with tempfile.TemporaryDirectory(prefix="privaudit-model-") as tmp:
        _unpack(Path(tmp), files)
        return recipe.load(Path(tmp) / "model")


def _unpack(directory: Path, files: Mapping[str, bytes]) -> None:
    for name, data in files.items():
        parts = Path(name).parts
        if Path(name).is_absolute() or ".." in parts or not parts:
            raise DataError(f"refusing to write '{name}' outside a model folder")
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_bytes(data)


def _write_model_dir(directory: Path, recipe, model, meta: dict, outputs: Mapping[str, np.ndarray]) -> None:
    (directory / "model").mkdir(parents=True)
    recipe.save(model, directory / "model")
    for query, array in outputs.items():
        sha256 = _write_array(directory / f"outputs-{query}.npy", array)
        (directory / f"outputs-{query}.json").write_text(_outputs_sidecar(meta["key"], query, array, sha256))
    files = {p.relative_to(directory).as_posix(): file_sha256(p) for p in sorted((directory / "model").rglob("*")) if p.is_file()}
    (directory / "meta.json").write_text(json.dumps({**meta, "files": files}, sort_keys=True, indent=1))


class ReferenceStore:
    """Reference models and outputs under ``root``, keyed by content (see the module docstring).

    Examples
    --------
    >>> import tempfile
    >>> store = ReferenceStore(tempfile.mkdtemp())
    >>> store.has_model("0" * 64)
    False
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    # -- keys ---------------------------------------------------------------
    def model_key(self, recipe, train_ids, seed: int, *, content_digest: str | None = None) -> str:
        """SHA-256 hex over the recipe's fingerprint, the sorted training ids, the seed, privaudit's version and the store format."""
        ids = sorted(np.asarray(train_ids).astype(str).tolist())
        payload = {
            "format": STORE_FORMAT, "privaudit": __version__, "recipe": recipe.fingerprint(), "seed": int(seed),
            "train_ids": hashlib.sha256(_canonical(ids)).hexdigest(), "train_content": content_digest,
        }
        return hashlib.sha256(_canonical(payload)).hexdigest()

    def identity(self) -> str:
        """The store's id (created on first use); workers compare it to tell whether they see the same folder."""
        marker = self.root / _MARKER
        if not marker.is_file():
            if self.root.exists() and not self.root.is_dir():
                raise OutputError(f"compute.store {self.root}: a file, not a folder; set compute.store to a new folder")
            foreign = sorted(p.name for p in self.root.iterdir() if not p.name.startswith(TMP_PREFIX) and p.name != _MARKER) if self.root.is_dir() else []
            if foreign and not marker.is_file():  # (another process may have just made the store here: then it is ours)
                # a folder privaudit did not make: never write into it, nor clean '.tmp-*' entries there (clean_temporary)
                raise OutputError(
                    f"compute.store {self.root}: the folder is not empty ({', '.join(foreign[:3])}{', ...' if len(foreign) > 3 else ''}) "
                    f"and is not a privaudit reference store (no {_MARKER}); set compute.store to a new or empty folder"
                )
            self.root.mkdir(parents=True, exist_ok=True)
            tmp = self.root / f"{temporary_name()}.json"
            tmp.write_text(json.dumps({"format": STORE_FORMAT, "id": uuid.uuid4().hex}))
            try:
                os.link(tmp, marker)  # fails if another process created it first: keep theirs
            except FileExistsError:
                pass
            finally:
                tmp.unlink()
        info = json.loads(marker.read_text())
        if info.get("format") != STORE_FORMAT:
            raise DataError(
                f"{self.root}: reference store format {info.get('format')} is not {STORE_FORMAT} (older stores carry no content hashes); "
                "delete that folder to retrain, or set compute.store to a new folder"
            )
        return str(info["id"])

    def sees(self, identity: str) -> bool:
        """True if ``root`` here is the store whose :meth:`identity` is ``identity`` (a shared filesystem)."""
        try:
            return json.loads((self.root / _MARKER).read_text()).get("id") == identity
        except (OSError, ValueError):
            return False

    # -- state --------------------------------------------------------------
    def has_model(self, key: str) -> bool:
        return (self.root / key / "meta.json").is_file()

    def has_outputs(self, key: str, query: str) -> bool:
        return (self.root / key / f"outputs-{query}.json").is_file()

    def clean_temporary(self) -> int:
        """Remove temporary folders and files whose writer has gone; returns how many were removed."""
        if not self.root.is_dir():
            return 0
        removed = 0
        for parent in [self.root, *(p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(TMP_PREFIX))]:
            for entry in parent.glob(f"{TMP_PREFIX}*"):
                try:
                    if writer_gone(entry.name, entry.lstat().st_mtime):
                        shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
                        removed += 1
                except FileNotFoundError:
                    pass
        return removed

    # -- writing ------------------------------------------------------------
    def _publish(self, write, key: str) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp, final = self.root / temporary_name(), self.root / key
        try:
            tmp.mkdir()
            write(tmp)
            os.replace(tmp, final)
        except BaseException as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            if isinstance(exc, OSError) and self.has_model(key):
                return final  # another writer finished the same model first
            raise
        return final

    def save_model(self, key: str, recipe, model, meta: dict, outputs: Mapping[str, np.ndarray]) -> Path:
        """Write a finished model, its meta and outputs atomically as ``root/<key>/``."""
        return self._publish(lambda tmp: _write_model_dir(tmp, recipe, model, {**meta, "key": key}, outputs), key)

    def save_files(self, key: str, files: Mapping[str, bytes]) -> Path:
        """Atomically write a model folder received as bytes (see :func:`model_files`), after checking its meta."""
        meta = json.loads(files["meta.json"])
        if meta.get("key") != key:
            raise DataError(f"model files for {key[:12]}… carry meta for {str(meta.get('key'))[:12]}…; refusing them")
        return self._publish(lambda tmp: _unpack(tmp, files), key)

    def save_outputs(self, key: str, query: str, outputs: np.ndarray) -> None:
        """Add outputs on another query set to a stored model (two atomic file renames, array first)."""
        directory = self.root / key
        sha256 = {}
        for suffix, write in ((".npy", lambda p: sha256.setdefault("npy", _write_array(p, outputs))), (".json", lambda p: p.write_text(_outputs_sidecar(key, query, outputs, sha256["npy"])))):
            tmp = directory / f"{temporary_name()}{suffix}"
            try:
                write(tmp)
                os.replace(tmp, directory / f"outputs-{query}{suffix}")
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise

    # -- reading ------------------------------------------------------------
    def read_meta(self, key: str) -> dict:
        """The model's ``meta.json``, refused unless it names this key and store format."""
        path = self.root / key / "meta.json"
        try:
            meta = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise DataError(f"{path}: unreadable reference model meta ({exc}); delete {path.parent} to retrain it") from None
        if meta.get("key") != key or meta.get("format") != STORE_FORMAT:
            raise DataError(f"{path}: meta is for key {str(meta.get('key'))[:12]}… format {meta.get('format')}, not {key[:12]}… format {STORE_FORMAT}; delete {path.parent} to retrain it")
        return meta

    def verify_model(self, key: str) -> dict:
        """Check every file under ``<key>/model/`` against the sha256 in its meta; returns the meta.

        Raises :class:`IntegrityError` naming the file (missing, extra, truncated or altered).
        """
        meta = self.read_meta(key)
        base = self.root / key
        fix = f"delete {base} to retrain that reference model"
        recorded = meta.get("files")
        if not isinstance(recorded, dict) or not recorded:
            raise IntegrityError(f"{base / 'meta.json'}: records no content hashes of the model files, so they cannot be verified; {fix}")
        present = {p.relative_to(base).as_posix() for p in (base / "model").rglob("*") if p.is_file()}
        for name in sorted(set(recorded) | present):
            if name not in present:
                raise IntegrityError(f"{base / name}: missing although meta.json records it; {fix}")
            _check_hash(base / name, recorded.get(name), fix)
        return meta

    def load_model(self, key: str, recipe):
        """Load the stored model with ``recipe.load`` after checking its meta and the content hash of every file."""
        self.verify_model(key)
        directory = self.root / key / "model"
        try:
            return recipe.load(directory)
        except PrivauditError:
            raise
        except Exception as exc:  # noqa: BLE001 - a model file that passed its hash but still cannot be loaded
            message = str(exc).splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise IntegrityError(f"{directory}: stored reference model cannot be loaded ({message}); delete {directory.parent} to retrain it") from None

    def read_model_files(self, key: str) -> dict[str, bytes]:
        """The ``model/`` folder as ``{relative path: bytes}``, for a worker without the store (verified first)."""
        self.verify_model(key)
        base = self.root / key
        return {p.relative_to(base).as_posix(): p.read_bytes() for p in sorted((base / "model").rglob("*")) if p.is_file()}

    def load_outputs(self, key: str, query: str, shape: tuple[int, int]) -> np.ndarray:
        """Outputs of model ``key`` on query set ``query``, float64 ``shape``; mismatches raise :class:`DataError`."""
        self.read_meta(key)
        sidecar, path = self.root / key / f"outputs-{query}.json", self.root / key / f"outputs-{query}.npy"
        try:
            info = json.loads(sidecar.read_text())
        except (OSError, ValueError) as exc:
            raise DataError(f"{sidecar}: unreadable stored outputs record ({exc}); delete it and {path.name} to recompute") from None
        if not isinstance(info, dict):
            raise DataError(f"{sidecar}: not a stored outputs record; delete it and {path.name} to recompute")
        _check_hash(path, info.get("sha256"), f"delete it (and {sidecar.name}) to recompute those outputs")
        try:
            array = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            raise DataError(f"{path}: unreadable stored outputs ({exc}); delete it to recompute") from None
        expected = [int(s) for s in shape]
        if info.get("key") != key or info.get("query") != query or info.get("shape") != expected or list(array.shape) != expected or array.dtype != np.float64:
            raise DataError(
                f"{path}: stored outputs are {array.dtype} {list(array.shape)} for key {str(info.get('key'))[:12]}…, query {str(info.get('query'))[:12]}…; "
                f"expected float64 {expected} for {key[:12]}…, {query[:12]}…; delete it to recompute"
            )
        return array
