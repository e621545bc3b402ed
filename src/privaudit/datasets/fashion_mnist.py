"""Fashion-MNIST (Xiao, Rasul & Vollgraf 2017; MIT licence) from Debian's ``dataset-fashion-mnist`` package.

70,000 grey-scale 28 × 28 images of clothing in 10 classes (60,000 ``train``,
10,000 ``t10k``). privaudit does not ship the images: it reads the package's
gzipped idx files from :data:`FASHION_MNIST_DIR` (``apt-get install
dataset-fashion-mnist``; ``dpkg -L dataset-fashion-mnist`` lists them).

The idx format (LeCun et al.): a big-endian header — magic ``0x00000803``
(unsigned bytes, 3 dimensions) for images, ``0x00000801`` for labels — then
the dimension sizes as big-endian int32 and the values as bytes. Every file
is checked: the gzip stream whole, the magic number, the dimensions (28 × 28),
the byte count against the header, labels in 0–9 and as many labels as
images; anything else is one :class:`~privaudit.exceptions.DataError` line
naming the file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from privaudit.data_files import gunzip_capped
from privaudit.exceptions import CapabilityError, DataError

__all__ = ["load_fashion_mnist", "FASHION_MNIST_DIR", "FASHION_MNIST_CLASSES", "FASHION_MNIST_INSTALL_HINT"]

#: where Debian's ``dataset-fashion-mnist`` installs the idx files (tests point it elsewhere)
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_INSTALL_HINT = "install it with: sudo apt-get install dataset-fashion-mnist"
#: class names in label order (the dataset's documentation)
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
_SPLITS = {"train": ("train", 60_000), "test": ("t10k", 10_000)}
_IMAGE_MAGIC, _LABEL_MAGIC = 0x00000803, 0x00000801
_MAX_BYTES = 64 * 1024**2  # the largest file expands to 47 MB: more is not Fashion-MNIST


def _read_gzip(path: Path) -> bytes:
    try:
        return gunzip_capped(path, _MAX_BYTES, fix="reinstall with: sudo apt-get install --reinstall dataset-fashion-mnist",
                             too_large="no Fashion-MNIST file does; reinstall the package")
    except FileNotFoundError:
        raise CapabilityError(f"{path}: Fashion-MNIST is not installed; {FASHION_MNIST_INSTALL_HINT}") from None


def read_idx(path: str | Path, *, magic: int, shape: tuple) -> np.ndarray:
    """The uint8 array of a gzipped idx file, checked against ``magic`` and ``shape`` (None: any size).

    Raises
    ------
    DataError
        Wrong magic number, dimensions or byte count, or a corrupt gzip stream; the message names the file.
    """
    path = Path(path)
    data = _read_gzip(path)
    n_dims = magic & 0xFF
    header = 4 + 4 * n_dims
    found = int.from_bytes(data[:4], "big") if len(data) >= 4 else None
    if found != magic:
        shown = "missing" if found is None else f"0x{found:08x}"
        raise DataError(f"{path}: idx magic number {shown}, expected 0x{magic:08x}; not a Fashion-MNIST {'image' if n_dims == 3 else 'label'} file")
    if len(data) < header:
        raise DataError(f"{path}: {len(data)} bytes, shorter than an idx header; reinstall the package")
    dims = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(n_dims))
    if any(want is not None and got != want for got, want in zip(dims, shape)):
        raise DataError(f"{path}: idx dimensions {dims}, expected {tuple('n' if w is None else w for w in shape)}; not a Fashion-MNIST file")
    expected = int(np.prod(dims, dtype=np.int64))
    if len(data) - header != expected:
        raise DataError(f"{path}: {len(data) - header:,} data bytes where the header promises {expected:,}; the file is truncated or corrupt: reinstall the package")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def load_fashion_mnist(split: str = "train", *, directory: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Images and labels of one split.

    Parameters
    ----------
    split : {"train", "test"}
        60,000 training or 10,000 test images.
    directory : path, optional
        Folder of the four idx files; default :data:`FASHION_MNIST_DIR`.

    Returns
    -------
    images : ndarray of uint8, shape (n, 28, 28)
        Pixel intensities 0–255 (0 is background).
    labels : ndarray of int64, shape (n,)
        Class index into :data:`FASHION_MNIST_CLASSES`.

    Raises
    ------
    CapabilityError
        The package is not installed (the message gives the apt-get command).
    DataError
        A file is corrupt, truncated or not Fashion-MNIST.

    Examples
    --------
    >>> images, labels = load_fashion_mnist("test")  # doctest: +SKIP
    >>> images.shape, FASHION_MNIST_CLASSES[labels[0]]  # doctest: +SKIP
    ((10000, 28, 28), 'Ankle boot')
    """
    if split not in _SPLITS:
        raise DataError(f"Fashion-MNIST split '{split}' does not exist; use 'train' or 'test'")
    folder = Path(FASHION_MNIST_DIR if directory is None else directory)
    if not folder.is_dir():
        raise CapabilityError(f"{folder}: Fashion-MNIST is not installed; {FASHION_MNIST_INSTALL_HINT}")
    stem, size = _SPLITS[split]
    images = read_idx(folder / f"{stem}-images-idx3-ubyte.gz", magic=_IMAGE_MAGIC, shape=(size, 28, 28))
    labels_path = folder / f"{stem}-labels-idx1-ubyte.gz"
    labels = read_idx(labels_path, magic=_LABEL_MAGIC, shape=(size,)).astype(np.int64)
    if labels.max() >= len(FASHION_MNIST_CLASSES):
        raise DataError(f"{labels_path}: label {int(labels.max())} outside 0–9; not a Fashion-MNIST label file")
    return images, labels
