"""Augmented queries on a model trained with augmentations: LiRA and RMIA with and without ``augment``.

A synthetic stand-in for an image classifier, small enough for a laptop's CPU:
8×8 one-channel images of 4 classes (a class pattern, random per-image
blobs, heavy pixel noise, 10 % flipped labels), and a scikit-learn MLP trained
— target and reference models alike — on every training image's 18 augmented
copies (mirror × 1-pixel shifts, :class:`privaudit.augmentations.Augmentations`),
as image classifiers are trained with random flips and crops. Members,
non-members and population records: ``N`` each (default 500); 8 online
reference models. Run::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_augmented_queries.py [N] [MODELS]

Prints AUC and TPR at 1 % and 0.1 % FPR (bootstrap and Clopper–Pearson 95 % CIs)
of LOSS, LiRA online (per-example and global variance) / offline and RMIA online, each without and with
``augment: true``, from ONE audit (one set of reference models).
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pandas as pd

from privaudit.augmentations import Augmentations
from privaudit.reference.recipes import SklearnRecipe

SIDE, CLASSES = 8, 4
TRAIN_AUGMENTATIONS = Augmentations(flip=True, shift=1)


class AugmentedTrainingRecipe(SklearnRecipe):
    """A scikit-learn recipe that fits on the augmented copies of its training images (as the target was trained)."""

    def fingerprint(self) -> dict:
        return {**super().fingerprint(), "train_augmentations": TRAIN_AUGMENTATIONS.key}

    def train(self, features: pd.DataFrame, labels: np.ndarray, seed: int):
        from privaudit.data import RecordSet

        records = RecordSet(np.arange(len(features)).astype(str), features.reset_index(drop=True), np.asarray(labels), tuple(range(CLASSES)),
                            image_shape=(1, SIDE, SIDE))
        copies = TRAIN_AUGMENTATIONS.apply(records)
        return super().train(copies.features, copies.labels, seed)


def make_images(n: int, seed: int):
    """``n`` 8×8 images of 4 classes: a class's fixed pattern at half strength, one random blob, noise; 10 % labels flipped."""
    rng = np.random.default_rng(seed)
    patterns = rng.normal(size=(CLASSES, SIDE, SIDE))
    labels = rng.integers(0, CLASSES, n)
    images = 0.5 * patterns[labels] + rng.normal(scale=1.0, size=(n, SIDE, SIDE))
    rows, cols = rng.integers(1, SIDE - 1, n), rng.integers(1, SIDE - 1, n)
    images[np.arange(n), rows, cols] += 3.0
    flipped = rng.random(n) < 0.1
    labels[flipped] = rng.integers(0, CLASSES, int(flipped.sum()))
    return images.reshape(n, 1, SIDE, SIDE).astype(np.float32), labels


def main(n: int = 500, n_models: int = 8) -> None:
    from sklearn.neural_network import MLPClassifier

    from privaudit.attacks import build_attack
    from privaudit.data import AuditData, RecordSet
    from privaudit.pipeline import audit
    from privaudit.reference.plan import ReferencePlan
    from privaudit.targets import SklearnTarget

    images, labels = make_images(3 * n, seed=0)
    ids = np.array([f"img{i:05d}" for i in range(3 * n)])
    records = RecordSet(ids, pd.DataFrame(images.reshape(3 * n, -1), columns=[f"px{i}" for i in range(SIDE * SIDE)]), labels,
                        tuple(range(CLASSES)), image_shape=(1, SIDE, SIDE))
    order = np.random.default_rng(1).permutation(3 * n)
    data = AuditData(records, np.sort(order[:n]), np.sort(order[n:2 * n]), np.sort(order[2 * n:]))
    estimator = MLPClassifier(hidden_layer_sizes=(256,), max_iter=200, alpha=1e-5, random_state=0)
    recipe = AugmentedTrainingRecipe(estimator)
    started = time.perf_counter()
    members = records.subset(data.members)
    target = SklearnTarget(recipe.train(members.features, members.labels, 0), name="mlp_trained_with_augmentations")
    accuracy = [float((target.predict(records.subset(part)).argmax(1) == labels[part]).mean()) for part in (data.members, data.nonmembers)]
    plan = ReferencePlan(recipe, n_models=n_models, mode="online", train_size=n, store=".privaudit-cache/bench-augmented", backend="sequential")
    attacks = [build_attack(spec) for spec in (
        "loss",
        {"name": "lira"}, {"name": "lira", "augment": True},
        {"name": "lira", "variance": "global"}, {"name": "lira", "variance": "global", "augment": True},
        {"name": "lira", "mode": "offline"}, {"name": "lira", "mode": "offline", "augment": True},
        {"name": "rmia"}, {"name": "rmia", "augment": True},
    )]
    result = audit(data, [target], attacks, n_bootstrap=200, seed=0, reference=plan)
    print(f"target accuracy: members {accuracy[0]:.1%}, non-members {accuracy[1]:.1%}; {n} members, {n} non-members, {n} population records; "
          f"{n_models} online reference models; {time.perf_counter() - started:.0f} s")
    from privaudit.report.formatting import queries_text

    print(queries_text(result.targets[0].queries))
    print("| attack | AUC [95 % CI] | TPR @ 1 % FPR [95 % CI] | TPR @ 0.1 % FPR [95 % CI] |")
    print("|---|---:|---:|---:|")
    for r in result.results:
        m = r.metrics
        cells = [f"{m.operating_points[f].tpr:.1%} [{m.operating_points[f].ci[0]:.1%}, {m.operating_points[f].ci[1]:.1%}]" for f in (0.01, 0.001)]
        print(f"| {r.attack} | {m.auc:.3f} [{m.auc_ci[0]:.3f}, {m.auc_ci[1]:.3f}] | {cells[0]} | {cells[1]} |", flush=True)


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
