"""Reading image and tensor records: ``.npz`` / ``.npy`` arrays or a folder of image files (ImageFolder layout).

:func:`read_image_table` turns such a source into a table privaudit's data
loader (:func:`privaudit.data.load_audit_data`) treats like a CSV: one row per
image, float32 pixel columns ``pixel_0 … pixel_{C·H·W−1}`` in C-order of
``(channels, height, width)``, plus the label, id and membership columns the
config names. The caller records ``image_shape`` on the
:class:`~privaudit.data.RecordSet`.

Sources (``data.path``):

``.npz`` (``numpy.savez``; never unpickled)
    key ``images``: shape ``(n, H, W)`` (one channel), ``(n, C, H, W)``
    (channels first) or ``(n, d)`` (flat vectors, not images); any real
    numeric dtype, used as stored (converted to float32: scale pixels the way
    the target was trained). ``data.label`` names the key of the labels
    (``(n,)`` integers or strings), ``data.id_column`` an optional key of record
    ids, ``membership.column`` an optional key of roles (member / nonmember /
    population, or 1 / 0, as in a CSV column).
``.npy``
    the images alone; ``data.label``, ``data.id_column`` and
    ``membership.column`` then name ``.npy`` files beside it
    (``labels`` or ``labels.npy`` → ``<folder>/labels.npy``).
a folder
    ``root/<class>/<file>.png|.jpg|.jpeg``: the label is the class folder
    (give ``label: class``), the record id the path relative to the root
    (``coat/0001.png``); membership from index files of those ids. Pixels are
    scaled to [0, 1] (8-bit by 255, 16-bit grey by 65535; 32-bit and float
    modes are refused); grey-scale images have one channel, others are
    converted to RGB (three). Every image must have the same size. Anything
    else in a class folder (another file type, a subfolder, a symbolic link
    leading outside the root) is refused rather than skipped; hidden names
    (``.DS_Store``) are ignored.

Hostile input ends in one :class:`~privaudit.exceptions.DataError` line naming
the file, the key and the fix: object (pickled) arrays, non-numeric or complex
images, NaN or infinite pixels, arrays of different lengths, unreadable or
oversized files (caps: :data:`MAX_ARRAY_BYTES` in all, :data:`MAX_IMAGE_PIXELS`
per image file, which also stops decompression bombs).
"""

from __future__ import annotations

import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from privaudit.data_files import first_line
from privaudit.exceptions import DataError

__all__ = ["read_image_table", "is_image_source", "IMAGES_KEY", "FOLDER_LABEL", "FOLDER_ID", "MAX_ARRAY_BYTES", "MAX_IMAGE_PIXELS", "IMAGE_SUFFIXES"]

#: the npz key of the images
IMAGES_KEY = "images"
#: the label name a folder source is given (the class folder of each image)
FOLDER_LABEL = "class"
#: the id column of a folder source's table (ids are paths relative to the root)
FOLDER_ID = "record_id"
#: arrays (expanded) and decoded images may total at most this many bytes
MAX_ARRAY_BYTES = 8 * 1024**3
#: one image file may have at most this many pixels (width × height), checked from its header before decoding
MAX_IMAGE_PIXELS = 4096 * 4096
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def is_image_source(path: str | Path) -> bool:
    """Whether ``data.path`` is read by :func:`read_image_table` (``.npy``, ``.npz`` or a folder)."""
    path = Path(path)
    return path.suffix.lower() in (".npy", ".npz") or path.is_dir()


def _checked_images(images: np.ndarray, where: str) -> tuple[np.ndarray, tuple | None]:
    if images.dtype.kind not in "biuf":
        raise DataError(f"{where}: images have dtype {images.dtype}; store real numbers (uint8 or float pixels)")
    if images.ndim not in (2, 3, 4) or images.shape[0] == 0 or 0 in images.shape:
        raise DataError(f"{where}: images have shape {images.shape}; use (n, H, W), (n, C, H, W) channels first, or (n, d) flat vectors")
    if images.ndim == 4 and images.shape[-1] in (1, 3, 4) and images.shape[1] > 4:  # (n, H, W, C); 2 channels first is not this
        raise DataError(f"{where}: images have shape {images.shape}, channels last; store them channels first: images.transpose(0, 3, 1, 2)")
    shape = None if images.ndim == 2 else ((1, *images.shape[1:]) if images.ndim == 3 else tuple(images.shape[1:]))
    flat = images.reshape(images.shape[0], -1).astype(np.float32)
    bad = ~np.isfinite(flat).all(axis=1)
    if bad.any():
        raise DataError(f"{where}: {int(bad.sum())} images have NaN or infinite pixels (first: row {int(np.flatnonzero(bad)[0])}); fix or drop them")
    return flat, None if shape is None else tuple(int(v) for v in shape)


def _checked_column(values: np.ndarray, n: int, where: str, role: str) -> np.ndarray:
    if values.ndim != 1 or values.shape[0] != n:
        raise DataError(f"{where}: {role} have shape {values.shape} but there are {n} images; give one value per image, shape ({n},)")
    if values.dtype.kind not in "biuU":
        raise DataError(f"{where}: {role} have dtype {values.dtype}; store integers or strings (numpy unicode), not floats or objects")
    if role == "labels" and values.dtype.kind == "U" and (empty := np.flatnonzero(np.char.strip(values) == "")).size:
        raise DataError(f"{where}: {empty.size} labels are empty (first: row {int(empty[0])}); give every image its class")
    return values


def _declared_size(stream, stored: int, where: str) -> None:
    """Refuse a ``.npy`` whose header promises more data than the ``stored`` bytes hold, before numpy allocates it."""
    try:
        version = np.lib.format.read_magic(stream)
        reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = reader(stream)
    except (ValueError, OSError, EOFError, SyntaxError) as exc:
        raise DataError(f"{where}: not a readable .npy array ({first_line(exc)}); save it again with numpy.save") from None
    if dtype.hasobject:
        raise DataError(f"{where}: holds Python objects (a pickled array), which privaudit never loads; save numbers or numpy strings")
    declared = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if declared > stored - stream.tell():
        raise DataError(f"{where}: its header declares shape {shape} ({declared:,} bytes) but only {max(stored - stream.tell(), 0):,} bytes "
                        "follow; the file is truncated or corrupt: save it again with numpy.save")


def _load_npy(path: Path) -> np.ndarray:
    if not path.is_file():
        raise DataError(f"{path}: file not found; check the path (relative to the config file)")
    if path.stat().st_size > MAX_ARRAY_BYTES:
        raise DataError(f"{path}: {path.stat().st_size:,} bytes, more than the {MAX_ARRAY_BYTES:,} allowed; audit a sample of the records")
    try:
        stream = path.open("rb")
    except OSError as exc:
        raise DataError(f"{path}: could not be read ({first_line(exc)}); check its permissions") from None
    with stream:  # the header is checked before numpy allocates what it declares
        _declared_size(stream, path.stat().st_size, str(path))
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as exc:
        if "pickle" in str(exc):
            raise DataError(f"{path}: holds Python objects (a pickled array), which privaudit never loads; save numbers or numpy strings") from None
        raise DataError(f"{path}: not a readable .npy file ({first_line(exc)}); save it again with numpy.save") from None
    except (OSError, EOFError) as exc:
        raise DataError(f"{path}: not a readable .npy file ({first_line(exc)}); save it again with numpy.save") from None


def _npz_arrays(path: Path, names: dict) -> dict:
    wanted = {name for key in names.values() if key is not None for name in (key, f"{key}.npy")}  # numpy reads either member name
    try:
        with zipfile.ZipFile(path) as archive:
            expanded = sum(info.file_size for info in archive.infolist())
            if expanded > MAX_ARRAY_BYTES:
                raise DataError(f"{path}: expands to {expanded:,} bytes, more than the {MAX_ARRAY_BYTES:,} allowed; audit a sample of the records")
            for info in archive.infolist():  # zipfile stops each member at its declared size; its .npy header must fit in it
                if info.filename in wanted:
                    with archive.open(info) as stream:
                        _declared_size(stream, info.file_size, f"{path} ['{info.filename.removesuffix('.npy')}']")
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError) as exc:
        raise DataError(f"{path}: not a readable .npz archive ({first_line(exc)}); save it again with numpy.savez") from None
    arrays = {}
    try:
        with np.load(path, allow_pickle=False) as archive:
            keys = list(archive.keys())
            for role, key in names.items():
                if key is None:
                    continue
                if key not in keys:
                    raise DataError(f"{path}: no array '{key}' ({role}); the archive holds: {', '.join(keys) or 'nothing'}")
                arrays[role] = archive[key]
    except ValueError as exc:
        if "pickle" in str(exc):
            raise DataError(f"{path}: an array holds Python objects (pickled), which privaudit never loads; save numbers or numpy strings") from None
        raise DataError(f"{path}: an array is unreadable ({first_line(exc)}); save the archive again with numpy.savez") from None
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise DataError(f"{path}: not a readable .npz archive ({first_line(exc)}); save it again with numpy.savez") from None
    return arrays


def _sibling(path: Path, name: str) -> Path:
    return path.parent / (name if name.lower().endswith(".npy") else f"{name}.npy")


def _folder_files(root: Path) -> list[Path]:
    """The image files of ``root/<class>/``, refusing what would be silently skipped or read from outside ``root``."""
    inside, files = root.resolve(), []
    for path in sorted(root.glob("*/*")):
        if path.name.startswith(".") or path.parent.name.startswith("."):  # .DS_Store, .ipynb_checkpoints: not records
            continue
        try:
            target = path.resolve(strict=True)
        except (OSError, RuntimeError) as exc:  # a broken link or a loop of links
            raise DataError(f"{path}: cannot be followed ({first_line(exc)}); replace it with the image file") from None
        if not target.is_relative_to(inside):
            raise DataError(f"{path}: a symbolic link to {target}, outside the image folder {root}; copy the file into the folder")
        if path.is_dir():
            raise DataError(f"{path}: a folder inside a class folder is not read; put the images directly in <root>/<class>/")
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            raise DataError(f"{path}: not a {'/'.join(IMAGE_SUFFIXES)} image, and it would be skipped; convert it to PNG or move it out of {root}")
        files.append(path)
    if not files:
        raise DataError(f"{root}: no images found; lay the folder out as <root>/<class>/<image>.png (or .jpg)")
    return files


def _folder_images(root: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple]:
    from PIL import Image

    files = _folder_files(root)
    pixels, shape, total = [], None, 0
    for file in files:
        try:
            with warnings.catch_warnings(), Image.open(file) as image:  # the size is checked from the header, before decoding
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                if image.width * image.height > MAX_IMAGE_PIXELS:
                    raise DataError(f"{file}: {image.width} × {image.height} pixels, more than the {MAX_IMAGE_PIXELS:,} allowed; resize the images")
                if image.mode in ("I", "F"):  # 32-bit integers or floats: no scale to map to [0, 1]
                    raise DataError(f"{file}: colour mode {image.mode} (32-bit integer or float pixels); save the images as 8- or 16-bit PNG or JPEG")
                if image.mode.startswith("I;16"):  # 16-bit grey: scaled by 65535 (converting to "L" would clip at 255)
                    array = np.asarray(image).astype(np.float32) / 65535.0
                else:
                    array = np.asarray(image.convert("L" if image.mode in ("1", "L") else "RGB"), dtype=np.float32) / 255.0
        except DataError:
            raise
        except (OSError, ValueError, Image.DecompressionBombError, Image.DecompressionBombWarning, SyntaxError) as exc:
            raise DataError(f"{file}: not a readable image ({first_line(exc)}); replace or remove it") from None
        array = array[None] if array.ndim == 2 else array.transpose(2, 0, 1)
        if shape is None:
            shape = array.shape
        elif array.shape != shape:
            raise DataError(f"{file}: shape (channels, height, width) {array.shape}, but {files[0]} has {shape}; every image must have the same size and colour mode")
        total += array.nbytes
        if total > MAX_ARRAY_BYTES:
            raise DataError(f"{root}: the images decode to more than {MAX_ARRAY_BYTES >> 30} GiB; audit a sample of them")
        pixels.append(array.reshape(-1))
    ids = np.array([p.relative_to(root).as_posix() for p in files])
    labels = np.array([p.parent.name for p in files])
    return np.stack(pixels), labels, ids, tuple(int(v) for v in shape)


def read_image_table(path: str | Path, *, label: str | None, id_column: str | None = None,
                     membership_column: str | None = None) -> tuple[pd.DataFrame, list[str], tuple | None]:
    """Read an image or tensor source into ``(table, pixel_columns, image_shape)``.

    Parameters
    ----------
    path : path
        ``.npz``, ``.npy`` or a folder (see the module docstring).
    label, id_column, membership_column : str
        The config's ``data.label``, ``data.id_column`` and ``membership.column``:
        keys of the npz, sibling ``.npy`` files, or (folder) ``label: class``.

    Returns
    -------
    table : DataFrame
        Pixel columns (float32), then the columns named ``label``, ``id_column`` and
        ``membership_column`` (ids as text).
    pixel_columns : list of str
        ``pixel_0`` … in C-order.
    image_shape : tuple or None
        ``(C, H, W)``; None for flat ``(n, d)`` vectors.
    """
    path = Path(path)
    if label is None:
        raise DataError(f"{path}: data.label is missing; name the labels ({'label: class' if path.is_dir() else 'the key or file of the labels'})")
    if path.is_dir():
        if label != FOLDER_LABEL:
            raise DataError(f"{path}: an image folder's labels are its class folders: set data.label to '{FOLDER_LABEL}', not '{label}'")
        if membership_column is not None or id_column is not None:
            raise DataError(f"{path}: an image folder has no id or membership column; ids are relative paths (coat/0001.png): "
                            "give membership as index files (membership.members / nonmembers) and leave data.id_column out")
        flat, labels, ids, shape = _folder_images(path)
        columns = {label: labels, FOLDER_ID: ids}
    else:
        names = {"images": IMAGES_KEY, "labels": label, "ids": id_column, "membership": membership_column}
        if path.suffix.lower() == ".npz":
            if not path.is_file():
                raise DataError(f"{path}: file not found; check the path (relative to the config file)")
            arrays, source = _npz_arrays(path, names), lambda role: f"{path} ['{names[role]}']"
        else:
            arrays = {"images": _load_npy(path)}
            arrays.update({role: _load_npy(_sibling(path, key)) for role, key in names.items() if role != "images" and key is not None})
            source = lambda role: str(path if role == "images" else _sibling(path, names[role]))  # noqa: E731
        flat, shape = _checked_images(arrays["images"], source("images"))
        n = flat.shape[0]
        columns = {label: _checked_column(arrays["labels"], n, source("labels"), "labels")}
        if id_column is not None:
            columns[id_column] = _checked_column(arrays["ids"], n, source("ids"), "ids").astype(str)
        if membership_column is not None:
            columns[membership_column] = _checked_column(arrays["membership"], n, source("membership"), "membership roles").astype(str)
    pixel_columns = [f"pixel_{i}" for i in range(flat.shape[1])]
    table = pd.concat([pd.DataFrame(flat, columns=pixel_columns, copy=False), pd.DataFrame(columns)], axis=1)
    return table, pixel_columns, shape
