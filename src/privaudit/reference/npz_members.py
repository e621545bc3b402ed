"""Arrays of an ``.npz`` archive read a slice at a time: the members behind ``reference: {outputs: refs.npz}``.

A ``(K, n, C)`` C-ordered member is read one model (first index) at a time, never whole:
:class:`StoredModels` seeks into a member ``numpy.savez`` stored uncompressed, :class:`CompressedModels`
inflates a member ``numpy.savez_compressed`` deflated, in order and in small reads, checking its CRC at
the end of each pass. :func:`file_stamp` tells the file that was checked from one written over it.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np

from privaudit.exceptions import DataError

__all__ = ["StoredModels", "CompressedModels", "file_stamp", "read_npy_header", "INFLATE_CHUNK"]

_HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


def read_npy_header(stream) -> tuple:
    """``(version, header)`` of the ``.npy`` data at ``stream``'s position; ``header`` is ``(shape, fortran_order, dtype)``
    for formats 1.0 and 2.0, None for any other (3.0: a UTF-8 header, which numpy writes only for structured types).

    Raises ValueError (numpy's) when the magic string or the header is not valid."""
    version = np.lib.format.read_magic(stream)
    reader = _HEADER_READERS.get(version)
    return version, None if reader is None else reader(stream)


def file_stamp(path: Path) -> tuple:
    """``(size, modification time, CRC of outputs.npy)``: what tells the file checked from a file written over it."""
    stat = path.stat()
    try:
        with zipfile.ZipFile(path) as archive:
            crc = archive.getinfo("outputs.npy").CRC if "outputs.npy" in archive.namelist() else None
    except zipfile.BadZipFile:
        crc = None  # not an archive (np.load names what it is)
    return stat.st_size, stat.st_mtime_ns, crc


class StoredModels:
    """An uncompressed, C-ordered ``outputs.npy`` inside an ``.npz``, read one model (first index) at a time."""

    def __init__(self, path: Path, offset: int, dtype: np.dtype, shape: tuple) -> None:
        self.path, self.offset, self.dtype, self.shape = path, offset, dtype, tuple(shape)
        self.ndim = len(self.shape)

    @classmethod
    def open(cls, path: Path, name: str = "outputs"):
        """The member's layout, or None when it is compressed, Fortran-ordered or not plain numbers."""
        try:
            with zipfile.ZipFile(path) as archive:
                info = archive.getinfo(f"{name}.npy")
        except (KeyError, OSError, zipfile.BadZipFile):
            return None
        if info.compress_type != zipfile.ZIP_STORED:
            return CompressedModels.open(path, name)
        with open(path, "rb") as handle:
            handle.seek(info.header_offset)
            local = handle.read(30)
            if len(local) < 30 or local[:4] != b"PK\x03\x04":
                return None
            name_length, extra_length = struct.unpack("<HH", local[26:30])
            handle.seek(info.header_offset + 30 + name_length + extra_length)
            try:
                _, header = read_npy_header(handle)
            except ValueError:
                return None
            if header is None:
                return None
            shape, fortran, dtype = header
            if fortran or dtype.hasobject or len(shape) != 3:
                return None
            return cls(path, handle.tell(), dtype, shape)

    def __getitem__(self, k: int) -> np.ndarray:
        count = int(self.shape[1]) * int(self.shape[2])
        with open(self.path, "rb") as handle:
            handle.seek(self.offset + int(k) * count * self.dtype.itemsize)
            values = np.fromfile(handle, dtype=self.dtype, count=count)
        if values.size != count:
            raise DataError(f"{self.path}: array 'outputs' is cut short (model {k}); write the file again")
        return values.reshape(self.shape[1], self.shape[2])


INFLATE_CHUNK = 1 << 16  # zipfile makes ~3 temporary copies of each read; 64 KiB keeps them negligible


class CompressedModels(StoredModels):
    """A compressed (``numpy.savez_compressed``), C-ordered ``outputs.npy``, inflated one model at a time.

    Model k's numbers are consecutive in the inflated stream, so reading the models in order
    (as the checks and the signals do) inflates the member once per pass and never holds more
    than one model; asking for an earlier model starts the stream again.
    """

    def __init__(self, path: Path, name: str, header_bytes: int, dtype: np.dtype, shape: tuple) -> None:
        super().__init__(path, header_bytes, dtype, shape)
        self.name = name
        self._archive = self._stream = None
        self._next = 0

    @classmethod
    def open(cls, path: Path, name: str = "outputs"):
        try:
            with zipfile.ZipFile(path) as archive, archive.open(f"{name}.npy") as stream:
                _, header = read_npy_header(stream)
                header_bytes = stream.tell()
        except (KeyError, OSError, ValueError, EOFError, zlib.error, zipfile.BadZipFile):
            return None
        if header is None:
            return None
        shape, fortran, dtype = header
        if fortran or dtype.hasobject or len(shape) != 3:  # Fortran order (or not numbers): read whole, as numpy does
            return None
        return cls(path, name, header_bytes, dtype, tuple(int(d) for d in shape))

    def close(self) -> None:
        for handle in (self._stream, self._archive):
            if handle is not None:
                handle.close()
        self._archive = self._stream = None

    def __del__(self) -> None:
        self.close()

    def _read_exactly(self, buffer: memoryview, k: int, *, to_end: bool = False) -> None:
        done = 0
        try:
            while done < len(buffer):
                got = self._stream.readinto(buffer[done:done + INFLATE_CHUNK])  # zipfile builds each read as bytes: keep them small
                if not got:
                    break
                done += got
            if to_end and self._stream.read(1):
                self.close()
                raise DataError(f"{self.path}: array '{self.name}' has bytes beyond its declared shape {self.shape}; write the file again")
        except (OSError, EOFError, zlib.error, zipfile.BadZipFile) as exc:
            self.close()
            raise DataError(f"{self.path}: array '{self.name}' cannot be inflated at model {k} ({exc or type(exc).__name__}); write the file again") from None
        if done != len(buffer):
            self.close()
            raise DataError(f"{self.path}: array '{self.name}' is cut short (model {k}); write the file again")

    def __getitem__(self, k: int) -> np.ndarray:
        k = int(k)
        count = int(self.shape[1]) * int(self.shape[2])
        if self._stream is None or k < self._next:
            self.close()
            self._archive = zipfile.ZipFile(self.path)
            self._stream = self._archive.open(f"{self.name}.npy")
            self._read_exactly(memoryview(bytearray(self.offset)), k)  # the .npy header
            self._next = 0
        values = np.empty(count, dtype=self.dtype)
        while self._next <= k:  # skip earlier models (none when read in order), keep model k
            self._read_exactly(memoryview(values).cast("B"), k)
            self._next += 1
        if self._next >= self.shape[0]:  # the last model: read to the end, where zipfile checks the member's CRC
            self._read_exactly(memoryview(bytearray(0)), k, to_end=True)
            self.close()
        return values.reshape(self.shape[1], self.shape[2])

    def verify(self) -> None:
        """Inflate the whole member once (nothing kept), so a bad CRC or a cut stream is named as such."""
        self.close()
        self[self.shape[0] - 1]
