"""Reference models trained elsewhere: their outputs and training masks read from an ``.npz`` file.

A config's ``reference: {outputs: refs.npz}`` replaces training: the file holds

* ``record_ids`` (n,) — text or integer record ids, unique, the data's audited and population ids;
* ``keep`` (K, n) bool — ``keep[k, i]`` is True when reference model k trained on record i
  (all False on the audited records = an offline design);
* ``outputs`` (K, n, C) float — model k's answer for record i, columns in the data's class order;
* ``kind`` — a text scalar, ``probabilities`` or ``logits``.

:func:`load_reference_outputs` reads it with ``allow_pickle=False`` and checks every array
(one-line :class:`~privaudit.exceptions.DataError` naming the file, the array and the fix);
:func:`check_reference_ids` matches its ids to the audit's data. The models' outputs then go
through the same signal code and the same IN/OUT reading of ``keep`` as models the engine
trained (:func:`privaudit.reference.plan.reference_signals`), so an attack cannot tell them apart.
"""

from __future__ import annotations

import operator
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from privaudit.data_files import id_near_miss
from privaudit.exceptions import ConfigError, DataError
from privaudit.reference.npz_members import CompressedModels, StoredModels, file_stamp, read_npy_header

__all__ = ["PrecomputedReferences", "load_reference_outputs", "check_reference_ids", "check_online_keep", "save_reference_outputs",
           "OUTPUT_KINDS"]

#: what ``kind`` may say
OUTPUT_KINDS = ("probabilities", "logits")
_ARRAYS = ("record_ids", "keep", "outputs", "kind")
#: a compressed member inflating beyond both of these is refused unread (real float outputs and ids compress a few times, not 1000×)
_BOMB_MIN_BYTES, _BOMB_RATIO = 64 * 2**20, 1000


@dataclass(frozen=True)
class PrecomputedReferences:
    """Reference models' outputs and training masks, checked (:func:`load_reference_outputs`).

    Attributes
    ----------
    record_ids : ndarray of str, shape (n,)
    keep : ndarray of bool, shape (K, n)
    outputs : ndarray of float, shape (K, n, C), or None
        None for a checked file (:func:`load_reference_outputs`): :meth:`model_reader` reads
        them again, one model at a time, when the signals are computed, so the run never holds
        K × n × C numbers.
    output_kind : {"probabilities", "logits"}
    source : str
        The file, named in errors.
    path : Path, optional
        The file the outputs are read from when ``outputs`` is None.
    shape : tuple of int
        ``outputs``' shape (K, n, C) as checked.
    stamp : tuple
        The file's size, modification time and ``outputs`` member CRC when it was checked.
    """

    record_ids: np.ndarray
    keep: np.ndarray
    outputs: np.ndarray | None
    output_kind: str
    source: str = "<arrays>"
    path: Path | None = None
    shape: tuple = ()
    #: the file as checked (size, modification time, the outputs member's CRC): a file that differs when read is refused
    stamp: tuple = ()

    @property
    def n_models(self) -> int:
        return int(self.keep.shape[0])

    @property
    def model_keys(self) -> tuple[str, ...]:
        """One key per model: the file and the model's index (the store keys of trained models' place)."""
        return tuple(f"{Path(self.source).name}#{k}" for k in range(self.n_models))

    def rows_for(self, ids, *, what: str = "audited and population records") -> np.ndarray:
        """Rows of the file for record ``ids`` (in that order); a DataError names a missing id."""
        rows = pd.Index(self.record_ids).get_indexer(np.asarray(ids).astype(str))  # hashed; not kept (~100 MB of objects at 1M)
        missing = rows < 0
        if missing.any():
            first = np.asarray(ids)[missing][0]
            hint = id_near_miss(np.asarray(ids)[missing], self.record_ids)
            raise DataError(f"{self.source}: record_ids has no row for {int(missing.sum()):,} of the {what} (e.g. id {str(first)!r}){hint}; "
                            "the reference outputs must cover every record the models are asked about")
        return rows

    def model_reader(self):
        """``read(k)`` → model k's (n, C) outputs in the file's float type.

        Held outputs are sliced; a checked file is read one model at a time (never all K × n × C
        numbers at once): seeked where ``numpy.savez`` stored the array uncompressed, inflated in
        order where ``numpy.savez_compressed`` deflated it; only a Fortran-ordered array is read whole.
        """
        if self.outputs is not None:
            return lambda k: self.outputs[k]
        self._check_unchanged()
        models = StoredModels.open(self.path)
        if models is None:
            try:
                with np.load(self.path, allow_pickle=False) as archive:
                    models = archive["outputs"]
            except (OSError, ValueError, EOFError, KeyError, zlib.error, zipfile.BadZipFile) as exc:
                raise _one_line(self.source, "outputs", f"cannot be read again ({exc})", "leave the file alone during the audit and run it again") from None
        if tuple(models.shape) != self.shape or models.dtype.kind != "f":
            raise _one_line(self.source, "outputs", f"changed while privaudit ran (now shape {models.shape}, type {models.dtype})",
                            "leave the file alone during the audit and run it again")
        n_models = self.shape[0]

        def read(k) -> np.ndarray:
            k = operator.index(k)
            if not -n_models <= k < n_models:
                raise IndexError(f"model {k} is out of range for {n_models} models")
            self._check_unchanged()  # one stat per model: the numbers read are the numbers checked
            return np.asarray(models[k % n_models])

        return read

    def _check_unchanged(self) -> None:
        if not self.stamp:
            return
        try:
            now = file_stamp(self.path)
        except (OSError, zipfile.BadZipFile) as exc:
            raise _one_line(self.source, "outputs", f"cannot be read again ({exc})", "leave the file alone during the audit and run it again") from None
        if now != self.stamp:
            raise _one_line(self.source, "outputs", "changed while privaudit ran (the file is not the one checked)",
                            "leave the file alone during the audit and run it again")



def _one_line(source, array: str, problem: str, fix: str) -> DataError:
    return DataError(f"{source}: array '{array}' {problem}; {fix}")


#: what :func:`_declared_layout` returns for a .npy format 3.0 header
_FORMAT_3 = "format 3.0"


def _declared_layout(archive: zipfile.ZipFile, name: str):
    """``(shape, dtype, header bytes, member bytes)`` from ``name.npy``'s header, read from the stream (nothing allocated); None if unreadable."""
    info = archive.getinfo(f"{name}.npy")
    with archive.open(info) as stream:
        try:
            version, header = read_npy_header(stream)
        except (ValueError, TypeError, EOFError, OSError, zipfile.BadZipFile):
            return None
        if version == (3, 0):  # a UTF-8 header: numpy writes it only for structured types with non-Latin-1 field names
            return _FORMAT_3
        if header is None:
            return None
        shape, _, dtype = header
        return tuple(int(d) for d in shape), dtype, stream.tell(), info.file_size, info.compress_size


def _check_declared_sizes(path: Path, source: str, n_records: int | None) -> set:
    """Each array's header must describe exactly the bytes stored after it, and no more ids than the data has records.

    Returns the names of the arrays that hold Python objects (refused when numpy will not load them).

    Read before numpy allocates anything: a tiny file whose header claims a huge shape (or a compressed
    member that would inflate beyond what its header says) is refused in one line instead of allocating it.
    """
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile):
        return set()  # np.load already read it; nothing more to check
    shapes, objects, file_bytes = {}, set(), path.stat().st_size
    with archive:
        for name in _ARRAYS:
            layout = _declared_layout(archive, name)
            if layout is None:
                raise _one_line(source, name, "has an unreadable .npy header", "write the file again with numpy.savez")
            if layout == _FORMAT_3:
                raise _one_line(source, name, "is a .npy format 3.0 array (a structured type with non-Latin-1 field names)",
                                "save plain numbers (outputs, keep), text or integers (record_ids, kind)")
            shape, dtype, header_bytes, stored, packed = layout
            if packed > file_bytes:  # else the bomb check below would trust a ratio the file cannot hold
                raise _one_line(source, name, f"has a zip entry claiming {packed:,} packed bytes, more than the whole file ({file_bytes:,} bytes)",
                                "write the file again with numpy.savez (the file is cut short or was edited)")
            if dtype.hasobject:
                objects.add(name)
                continue  # refused below without being read (privaudit never unpickles)
            declared = int(np.prod(shape, dtype=object)) * dtype.itemsize
            if header_bytes + declared != stored:
                raise _one_line(source, name, f"has a header declaring shape {shape} of {dtype} ({declared:,} bytes) but {stored - header_bytes:,} "
                                "bytes of data are stored", "write the file again with numpy.savez (the file is damaged or was edited)")
            if name == "record_ids" and n_records is not None and len(shape) == 1 and shape[0] > n_records:
                raise _one_line(source, name, f"lists {shape[0]:,} ids but the data has only {n_records:,} audited and population records",
                                "save the outputs on the data's audited and population records only")
            shapes[name] = shape
            if name != "keep" and stored > _BOMB_MIN_BYTES and stored > _BOMB_RATIO * max(packed, 1):  # keep: bounded by outputs below
                raise _one_line(source, name, f"inflates from {packed:,} to {stored:,} bytes ({stored // max(packed, 1):,}×, a zip bomb?)",
                                "save real outputs with numpy.savez (uncompressed; read one model at a time) or numpy.savez_compressed")
    keep, outputs = shapes.get("keep"), shapes.get("outputs")
    if keep is not None and outputs is not None and len(outputs) == 3 and keep != outputs[:2]:
        raise _one_line(source, "keep", f"has shape {keep}, expected {outputs[:2]} like outputs' models × records", "save one row per model, one column per record id")
    return objects


def load_reference_outputs(path, *, field: str = "reference.outputs", n_classes: int | None = None,
                           n_records: int | None = None) -> PrecomputedReferences:
    """Read and check a reference-outputs file (``numpy.savez`` / ``savez_compressed``, ``allow_pickle=False``).

    Parameters
    ----------
    path : str or Path
    field : str
        The config key naming the file (in errors about the file itself).
    n_classes : int, optional
        The data's class count; ``outputs`` must have that many columns.
    n_records : int, optional
        The data's audited and population record count: ``record_ids`` may not declare more
        (checked from the headers, before anything is allocated).

    Raises
    ------
    ConfigError
        The file is missing or not an ``.npz`` archive.
    DataError
        An array is missing, has the wrong shape or type, holds NaN/inf, repeated ids,
        probabilities that are not probabilities, or an unknown kind.
    """
    path = Path(path)
    source = str(path)
    if path.is_dir():
        raise ConfigError(f"{field}: {source} is a folder; give the .npz file in it (numpy.savez(record_ids=..., keep=..., outputs=..., kind=...))")
    if not path.is_file():
        raise ConfigError(f"{field}: {source} not found; give the .npz file of record_ids, keep, outputs and kind (paths are relative to the config)")
    try:
        stamp = file_stamp(path)  # before anything is read: a file written over during the checks differs from it
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise ConfigError(f"{field}: {source} is not a numpy .npz archive ({exc}); write it with numpy.savez(record_ids=..., keep=..., outputs=..., kind=...)") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ConfigError(f"{field}: {source} holds one array, not an .npz archive; write it with numpy.savez(record_ids=..., keep=..., outputs=..., kind=...)")
    with archive:
        absent = [name for name in _ARRAYS if name not in archive.files]
        if absent:
            raise DataError(f"{source}: no array {', '.join(map(repr, absent))} (it holds {', '.join(archive.files) or 'none'}); "
                            "save record_ids (n,), keep (K, n) bool, outputs (K, n, C) and kind ('probabilities' or 'logits')")
        objects = _check_declared_sizes(path, source, n_records)  # before any array is allocated
        arrays = {}
        for name in _ARRAYS:
            stored = StoredModels.open(path) if name == "outputs" else None
            try:
                arrays[name] = stored if stored is not None else archive[name]  # outputs: checked model by model, never all held
            except ValueError as exc:
                if name in objects:  # object arrays refuse to load without pickle
                    raise _one_line(source, name, "holds Python objects (it needs pickle, which privaudit never loads)",
                                    "save it as numbers or text (e.g. numpy.asarray(ids, dtype=str))") from None
                raise _one_line(source, name, f"cannot be read ({exc})", "write the file again with numpy.savez") from None  # e.g. fewer bytes than declared
            except (OSError, EOFError, zlib.error, zipfile.BadZipFile) as exc:  # a damaged member (bad CRC, cut deflate stream)
                raise _one_line(source, name, f"cannot be read ({exc})", "write the file again with numpy.savez") from None
    refs = check_reference_arrays(arrays, source=source, n_classes=n_classes)
    return PrecomputedReferences(refs.record_ids, refs.keep, None, refs.output_kind, source, path=path, shape=refs.shape, stamp=stamp)


def check_reference_arrays(arrays: dict, *, source: str, n_classes: int | None = None) -> PrecomputedReferences:
    """Check the four arrays of a reference-outputs file; see :func:`load_reference_outputs`."""
    ids, keep, kind = (np.asarray(arrays[name]) for name in ("record_ids", "keep", "kind"))
    outputs = arrays["outputs"] if isinstance(arrays["outputs"], StoredModels) else np.asarray(arrays["outputs"])
    if kind.ndim != 0 or kind.dtype.kind != "U" or str(kind) not in OUTPUT_KINDS:
        raise _one_line(source, "kind", f"is {kind!r}", "save kind=numpy.array('probabilities') or numpy.array('logits')")
    if ids.ndim != 1 or ids.dtype.kind not in "UiuS":
        raise _one_line(source, "record_ids", f"has shape {ids.shape} and type {ids.dtype}", "save one text or integer id per record, shape (n,)")
    ids = ids.astype(str)
    n = ids.size
    if outputs.ndim != 3 or outputs.shape[1] != n:
        raise _one_line(source, "outputs", f"has shape {outputs.shape}, expected (K models, {n:,} records, C classes)", "save one row per record id for every model")
    if outputs.dtype.kind != "f":
        raise _one_line(source, "outputs", f"has type {outputs.dtype}", "save the outputs as float32 (or float64) numbers")
    n_models = outputs.shape[0]
    if keep.dtype != np.bool_:
        raise _one_line(source, "keep", f"has type {keep.dtype}, not bool", "save keep as a boolean (K, n) matrix: True where model k trained on record i")
    if keep.shape != (n_models, n):
        raise _one_line(source, "keep", f"has shape {keep.shape}, expected ({n_models}, {n:,}) like outputs' models × records", "save one row per model, one column per record id")
    if n_models < 1 or n < 1:
        raise _one_line(source, "outputs", f"has shape {outputs.shape}: no model or no record", "save at least one model's outputs on the records")
    if n_classes is not None and outputs.shape[2] != n_classes:
        raise _one_line(source, "outputs", f"has {outputs.shape[2]} columns, but the data has {n_classes} classes",
                        "save one column per class, in the data's class order")
    if outputs.shape[2] < 2:
        raise _one_line(source, "outputs", f"has {outputs.shape[2]} column", "save one column per class (at least 2)")
    repeated = pd.Index(ids).duplicated()  # hashed: no sort of a million strings
    if repeated.any():
        twice = pd.unique(ids[repeated])
        raise _one_line(source, "record_ids", f"lists {twice.size:,} ids more than once (e.g. {str(twice[0])!r})", "list each record id once")
    for k in range(n_models):  # per model: never a (K, n, C) temporary
        try:
            _check_model_outputs(outputs[k], k, ids, str(kind), source)
        except DataError:
            if isinstance(outputs, CompressedModels):
                outputs.verify()  # a damaged deflate stream can inflate to wrong numbers: name the damage, not the numbers
            raise
    held = None if isinstance(outputs, StoredModels) else outputs
    return PrecomputedReferences(ids, keep, held, str(kind), source, shape=tuple(outputs.shape))


def _check_model_outputs(model: np.ndarray, k: int, ids: np.ndarray, kind: str, source: str) -> None:
    finite = np.isfinite(model)
    if not finite.all():
        row = int(np.flatnonzero(~finite.all(axis=1))[0])
        raise _one_line(source, "outputs", f"holds NaN or infinite values (model {k}, record {str(ids[row])!r})", "every output must be a finite number")
    if kind == "probabilities" and (model.min() < 0 or model.max() > 1):
        raise _one_line(source, "outputs", f"holds values outside [0, 1] for model {k} though kind is 'probabilities'",
                        "save kind='logits' if these are logits")


def check_reference_ids(refs: PrecomputedReferences, data) -> None:
    """The file's ids must be exactly the data's audited and population ids: a missing or extra id is named."""
    wanted = data.records.ids[np.concatenate([data.audited, data.population])].astype(str)
    refs.rows_for(wanted)
    extra = pd.Index(wanted).get_indexer(refs.record_ids) < 0
    if extra.any():
        raise _one_line(refs.source, "record_ids", f"lists {int(extra.sum()):,} ids that are not audited or population records of the data "
                        f"(e.g. {str(refs.record_ids[extra][0])!r})", "save the outputs on the data's records only, or add those records to the data")


def check_online_keep(refs: PrecomputedReferences, ids) -> None:
    """An online audit needs every audited record IN at least one model and OUT of at least one; else a DataError names them.

    Online LiRA fits each record's IN and OUT Gaussians (Carlini et al. 2022, eq. 4) and online RMIA's
    Pr(x) averages IN and OUT models alike (Zarifzadeh et al. 2024, sec. 3): a record with no IN model or
    no OUT model has nothing to fit one side from, so it is refused here, naming the file and the fix,
    instead of deep inside an attack.
    """
    keep = refs.keep[:, refs.rows_for(ids, what="audited records")]
    n_in = keep.sum(axis=0)
    for bad, side in ((n_in == 0, "IN no reference model"), (n_in == keep.shape[0], "IN every reference model (OUT of none)")):
        if bad.any():
            first = str(np.asarray(ids)[bad][0])
            raise DataError(f"{refs.source}: keep makes the audit online (some audited records are IN a model), but {int(bad.sum()):,} "
                            f"audited record(s) are {side} (e.g. id {first!r}); online attacks need IN and OUT models for every "
                            "audited record: train each on about half of the models, or mark no audited record IN any model for an offline audit")


def save_reference_outputs(path, record_ids, keep, outputs, kind: str) -> None:
    """Write a reference-outputs file in the layout :func:`load_reference_outputs` reads (uncompressed ``.npz``)."""
    if kind not in OUTPUT_KINDS:
        raise ConfigError(f"kind must be one of {OUTPUT_KINDS}, not {kind!r}")
    np.savez(path, record_ids=np.asarray(record_ids).astype(str), keep=np.asarray(keep, dtype=bool), outputs=np.asarray(outputs), kind=np.array(kind))
