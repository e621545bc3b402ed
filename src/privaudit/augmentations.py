"""Augmented queries: ask a model about flipped and shifted copies of each image record (Carlini et al. 2022, §VI).

LiRA's paper (§VI-B, "Augmentations") queries the model on the augmentations
it was trained with — a horizontal mirror and small pixel shifts — and fits a
Gaussian per augmentation: a model memorises its training images under those
augmentations too, so Q queries give Q noisy looks at the same membership.
:class:`Augmentations` says which copies; :meth:`Augmentations.apply` makes
them, record-major, from a :class:`~privaudit.data.RecordSet` whose
``image_shape`` is ``(channels, height, width)``.

The copies, as the paper's code makes them (``research/mi_lira_2021/inference.py``
in google's ``privacy`` repository, ``get_loss``): for each of (unflipped,
flipped) — the flip reverses the width axis — the image is padded by ``shift``
pixels on each side with **reflect** padding (``tf.pad(..., mode="REFLECT")``:
the edge pixel is not repeated, like numpy's ``mode="reflect"``) and cropped
at every offset ``(dy, dx)`` in ``[−shift, shift]²``, so copy pixel
``(i, j)`` = original pixel ``(reflect(i + dy), reflect(j + dx))``. That gives
``Q = (2 if flip else 1) · (2·shift + 1)²`` copies (the paper's 2 and 18 for
``flip`` and ``flip,shift=1``). One choice differs from that code, the order:
query 0 here is the record itself (no flip, offset (0, 0)), then the other
offsets of the unflipped image in row-major order of (dy, dx), then the
flipped image's offsets in the same order, (0, 0) first.

Reflect padding needs ``shift < height`` and ``shift < width``; the copies of
one record set must fit in :data:`MAX_AUGMENTED_BYTES` (Q grows as shift²).

Example
-------
>>> import numpy as np, pandas as pd
>>> from privaudit.data import RecordSet
>>> pixels = np.arange(9.0).reshape(1, 9)                       # one 1×3×3 image
>>> records = RecordSet(np.array(["a"]), pd.DataFrame(pixels), np.array([0]), (0,), image_shape=(1, 3, 3))
>>> augment = parse_augment(True, attack="lira")
>>> augment.key, augment.n_queries
('flip,shift=1', 18)
>>> copies = augment.apply(records)
>>> len(copies), copies.ids[:2].tolist()
(18, ['a', 'a'])
>>> copies.features.to_numpy()[0].reshape(3, 3).tolist()       # query 0: the image itself
[[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]]
>>> copies.features.to_numpy()[9].reshape(3, 3).tolist()       # query 9: mirrored, not shifted
[[2.0, 1.0, 0.0], [5.0, 4.0, 3.0], [8.0, 7.0, 6.0]]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from privaudit.exceptions import CapabilityError, ConfigError

__all__ = ["Augmentations", "parse_augment", "augmented_signal_key", "DEFAULT_AUGMENTATIONS", "MAX_AUGMENTED_BYTES"]

#: the augmented copies of one record set (n · Q images, made at once by :meth:`Augmentations.apply`) may take at most this many bytes
MAX_AUGMENTED_BYTES = 8 * 1024**3
#: how to write the ``augment`` parameter, for error messages
AUGMENT_FIX = "give augment: true (a mirror and 1-pixel shifts, 18 queries) or a mapping such as {flip: true, shift: 2}"


@dataclass(frozen=True)
class Augmentations:
    """Which augmented copies of each image record to query (see the module docstring).

    Parameters
    ----------
    flip : bool
        Also query the horizontally mirrored image.
    shift : int
        Largest pixel shift in each of x and y (reflect padding); 0 = no shifts.
    """

    flip: bool = True
    shift: int = 1

    @property
    def n_queries(self) -> int:
        """Q = (2 if flip else 1) · (2·shift + 1)²: copies per record, the record itself included."""
        return (2 if self.flip else 1) * (2 * self.shift + 1) ** 2

    @property
    def key(self) -> str:
        """A stable name, e.g. ``flip,shift=1``, ``flip`` or ``shift=2``: names signals and reports."""
        parts = (["flip"] if self.flip else []) + ([f"shift={self.shift}"] if self.shift else [])
        return ",".join(parts)

    def offsets(self) -> list[tuple[bool, int, int]]:
        """``(flipped, dy, dx)`` of each query in order; query 0 is ``(False, 0, 0)``, the record itself."""
        span = range(-self.shift, self.shift + 1)
        moves = [(0, 0)] + [(dy, dx) for dy in span for dx in span if (dy, dx) != (0, 0)]
        return [(flipped, dy, dx) for flipped in ((False, True) if self.flip else (False,)) for dy, dx in moves]

    def check(self, records) -> tuple[int, int, int]:
        """``(channels, height, width)`` of ``records``, or a one-line error when they cannot be augmented (before any query)."""
        shape = records.image_shape
        if shape is None:
            raise CapabilityError("augmentations need image records (data with image_shape: channels, height, width); "
                                  "these records are tabular, so leave augment out of the attack")
        channels, height, width = (int(s) for s in shape)
        if self.shift >= min(height, width):
            raise ConfigError(f"augment shift={self.shift} needs images larger than the shift; these are {height}×{width} pixels: use a smaller shift")
        itemsize = max((np.dtype(d).itemsize if np.issubdtype(d, np.number) else 8) for d in set(records.features.dtypes))
        size = len(records) * self.n_queries * channels * height * width * itemsize
        if size > MAX_AUGMENTED_BYTES:  # the copies are made at once (apply): refuse before memory runs out, not after
            raise ConfigError(f"augment {self.key} makes {self.n_queries:,} copies of each of {len(records):,} records ({size / 1024**3:.1f} GiB, "
                              f"more than the {MAX_AUGMENTED_BYTES >> 30} GiB allowed); use a smaller shift (shift=1: 18 queries) or audit a sample")
        return channels, height, width

    def apply(self, records):
        """The n·Q augmented copies of ``records``, record-major (rows ``i·Q … i·Q + Q − 1`` are record i's).

        Ids, labels, classes, columns and ``image_shape`` are kept; pixel values
        move. Raises :class:`CapabilityError` for records without ``image_shape``.
        """
        from privaudit.data import RecordSet

        channels, height, width = self.check(records)
        n, q = len(records), self.n_queries
        values = records.features.to_numpy()
        dtype = values.dtype if np.issubdtype(values.dtype, np.number) else np.float64
        pixels = values.astype(dtype, copy=False).reshape(n, channels, height, width)
        s = self.shift
        padded = np.pad(pixels, ((0, 0), (0, 0), (s, s), (s, s)), mode="reflect") if s else pixels
        copies = np.empty((n, q, channels, height, width), dtype=dtype)
        for index, (flipped, dy, dx) in enumerate(self.offsets()):
            source = padded[..., ::-1] if flipped else padded  # mirroring the padded image = padding the mirrored one
            copies[:, index] = source[:, :, s + dy:s + dy + height, s + dx:s + dx + width]
        features = pd.DataFrame(copies.reshape(n * q, -1), columns=records.features.columns)
        return RecordSet(np.repeat(records.ids, q), features, np.repeat(records.labels, q), records.classes, records.image_shape)


#: ``augment: true``: the mirror and shifts of up to 1 pixel, the paper's 18 queries
DEFAULT_AUGMENTATIONS = Augmentations(flip=True, shift=1)


def parse_augment(value: Any, *, attack: str) -> Augmentations | None:
    """The :class:`Augmentations` an attack's ``augment`` parameter asks for, or None for one plain query.

    ``None``/``False`` → None; ``True`` → :data:`DEFAULT_AUGMENTATIONS`; a mapping
    ``{flip: bool, shift: int ≥ 0}`` (missing keys as in the default) → those;
    an :class:`Augmentations` as it is. Anything else is a one-line
    :class:`ConfigError` naming ``attack``.
    """
    if value is None or value is False:
        return None
    if value is True:
        return DEFAULT_AUGMENTATIONS
    if isinstance(value, Augmentations):
        chosen = value
    elif isinstance(value, dict):
        unknown = sorted(set(map(str, value)) - {"flip", "shift"})
        if unknown:
            raise ConfigError(f"attack '{attack}': augment has unknown key(s) {', '.join(unknown)}; {AUGMENT_FIX}")
        flip, shift = value.get("flip", DEFAULT_AUGMENTATIONS.flip), value.get("shift", DEFAULT_AUGMENTATIONS.shift)
        if not isinstance(flip, (bool, np.bool_)):
            raise ConfigError(f"attack '{attack}': augment flip must be true or false, got {flip!r}; {AUGMENT_FIX}")
        if isinstance(shift, (bool, np.bool_)) or not isinstance(shift, (int, np.integer)) or shift < 0:
            raise ConfigError(f"attack '{attack}': augment shift must be a whole number ≥ 0, got {shift!r}; {AUGMENT_FIX}")
        chosen = Augmentations(flip=bool(flip), shift=int(shift))
    else:
        raise ConfigError(f"attack '{attack}': augment must be true, false or a mapping, got {value!r}; {AUGMENT_FIX}")
    if chosen.n_queries == 1:
        raise ConfigError(f"attack '{attack}': augment with flip false and shift 0 asks for no augmented copies; leave augment out, or {AUGMENT_FIX}")
    return chosen


def augmented_signal_key(signal: str, augmentations: Augmentations | None) -> str:
    """Where a signal's values are stored: ``signal`` for one plain query, ``signal@<key>`` for augmented ones.

    >>> augmented_signal_key("logit_confidence", Augmentations(flip=True, shift=1))
    'logit_confidence@flip,shift=1'
    """
    return signal if augmentations is None else f"{signal}@{augmentations.key}"
