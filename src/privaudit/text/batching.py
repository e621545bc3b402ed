"""Length-bucketed batching: sort texts by length, pad only within a batch.

Padding a batch to its longest text wastes compute on pad positions. Sorting
by length first puts texts of similar length together, so almost no
position is padding. Pure numpy; used by the language-model targets and by
fine-tuning.

Example
-------
>>> lengths = np.array([3, 10, 4, 9])
>>> [b.tolist() for b in length_buckets(lengths, batch_size=2)]
[[1, 3], [2, 0]]
>>> round(padding_fraction(lengths, length_buckets(lengths, batch_size=2)), 3)
0.071
>>> round(padding_fraction(lengths, in_order_batches(4, batch_size=2)), 3)
0.316
"""

from __future__ import annotations

import numpy as np

__all__ = ["length_buckets", "in_order_batches", "padding_fraction"]


def length_buckets(lengths, *, batch_size: int, max_batch_tokens: int | None = None) -> list[np.ndarray]:
    """Batches of indices, longest texts first, each at most ``batch_size`` texts and ``max_batch_tokens`` padded slots.

    Parameters
    ----------
    lengths : int array, shape (n,)
        Tokens per text.
    batch_size : int
        Most texts per batch.
    max_batch_tokens : int, optional
        Most (texts × longest length) per batch; a single text longer than
        this still gets a batch of its own.

    Returns
    -------
    list of int arrays
        Every index exactly once; texts within a batch in order of
        decreasing length (ties by index).
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    if batch_size < 1:
        raise ValueError(f"batch_size must be ≥ 1, got {batch_size}")
    order = np.lexsort((np.arange(lengths.size), -lengths))  # longest first, stable
    batches, start = [], 0
    while start < order.size:
        longest = max(int(lengths[order[start]]), 1)
        size = batch_size
        if max_batch_tokens is not None:
            size = max(1, min(size, max_batch_tokens // longest))
        batches.append(order[start : start + size])
        start += size
    return batches


def in_order_batches(n: int, *, batch_size: int) -> list[np.ndarray]:
    """Consecutive batches ``[0..b), [b..2b), ...`` — batching without bucketing, for comparison."""
    return [np.arange(start, min(start + batch_size, n)) for start in range(0, n, batch_size)]


def padding_fraction(lengths, batches: list[np.ndarray]) -> float:
    """Share of padded slots: 1 − Σ lengths / Σ_batches (texts × longest), in [0, 1)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    slots = sum(int(b.size) * int(lengths[b].max()) for b in batches if b.size)
    return 0.0 if slots == 0 else 1.0 - float(lengths.sum()) / slots
