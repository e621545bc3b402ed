"""Small audit folders the reference-model tests share: synthetic records split into members, non-members and
population records, and the config around one sklearn target."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from privaudit.datasets import make_synthetic_tabular

FEATURES = ["x0", "x1", "x2", "x3", "x4"]


def write_split_records(folder: Path, n_each: int, *, seed: int = 5):
    """Write ``records.csv``: ``3 × n_each`` synthetic records (label noise 0.3), a seeded third each member, non-member
    and population in column ``split``; return the member rows (to fit the target on)."""
    frame = make_synthetic_tabular(3 * n_each, label_noise=0.3, seed=seed)
    frame["split"] = np.random.default_rng(1).permutation(np.array(["member"] * n_each + ["nonmember"] * n_each + ["population"] * n_each))
    frame.to_csv(folder / "records.csv", index=False)
    return frame[frame.split == "member"]


def tree_config(target: dict) -> dict:
    """The audit config over ``records.csv`` for one skops target (``target``: its block), sequential, store ``cache``."""
    return {
        "seed": 0,
        "data": {"path": "records.csv", "label": "label", "id_column": "record_id", "features": FEATURES, "membership": {"column": "split"}},
        "targets": [{"type": "sklearn", "trusted_types": ["sklearn.tree._tree.Tree"], **target}],
        "metrics": {"bootstrap": 100},
        "compute": {"backend": "sequential", "store": "cache"},
        "output": "report",
    }
