"""Seeded synthetic tabular data for tests and examples."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["make_synthetic_tabular"]


def make_synthetic_tabular(n_records: int = 1000, *, n_numeric: int = 5, n_classes: int = 2, label_noise: float = 0.1, seed: int = 0) -> pd.DataFrame:
    """Records with numeric features, one categorical feature and a label.

    Labels follow a random linear rule of the numeric features plus a
    category effect, with a fraction ``label_noise`` flipped to a random
    class — noisy labels are what an overfit model memorises, so membership
    leaks. Deterministic under ``seed``.

    Returns columns ``record_id``, ``x0``…, ``colour`` (categorical),
    ``label`` (int in [0, n_classes)).
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n_records, n_numeric))
    colour = rng.choice(np.array(["red", "green", "blue"]), size=n_records, p=[0.6, 0.3, 0.1])
    weights = rng.normal(size=(n_numeric, n_classes))
    colour_effect = {"red": 0.0, "green": 0.5, "blue": -0.5}
    logits = x @ weights + np.array([colour_effect[c] for c in colour])[:, None] * np.arange(n_classes)
    label = logits.argmax(axis=1)
    flip = rng.random(n_records) < label_noise
    label[flip] = rng.integers(0, n_classes, flip.sum())
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(n_numeric)])
    frame.insert(0, "record_id", [f"rec-{i:06d}" for i in range(n_records)])
    frame["colour"] = colour
    frame["label"] = label
    return frame
