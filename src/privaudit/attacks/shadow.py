"""Shadow-model attack (Shokri et al. 2017, "Membership Inference Attacks Against Machine Learning Models").

The reference models play Shokri et al.'s shadow models: their outputs on
records they did (``in_mask`` True, label 1) and did not (label 0) train on
are the attack model's training set (paper §IV-C/D), and the attack model's
``predict_proba`` for "member" on the target's outputs is the score.

Choices:

* **Features.** The paper feeds the attack model the full prediction vector
  (sorted, with the label selecting a per-class model). An attack here sees
  signals, not outputs, so the input is a tuple of signals — by default
  ``("confidence", "loss", "entropy")``: the true-class probability, its log,
  and how the remaining mass is spread. Any registered signals computed for
  both the target and the reference models may be named.
* **Per class** (``per_class=True``, as in the paper): one attack model per
  true label. A class with fewer than ``MIN_ROWS_PER_SIDE`` member or
  non-member training rows uses one model trained on all classes
  (``fallback_classes_`` lists them).
* **Training rows** are the reference models' signals on the audited records
  and, when given (with ``population_labels`` where per-class), on the
  population records — n·K + n_z·K rows, subsampled uniformly to
  ``max_training_rows`` with ``random_state``.
* **Classifier**: any scikit-learn classifier with ``predict_proba``, cloned
  before fitting (the parameter is never mutated); default
  ``HistGradientBoostingClassifier``. A clone whose ``random_state`` is None
  gets ``random_state`` so scores are reproducible.

The attack models are trained inside ``score`` from the ``reference`` it is
given (like every reference attack here, ``fit`` learns nothing) and kept in
``attack_models_`` / ``pooled_model_`` for inspection.

Shapes: each feature signal ``(n,)`` for the target, ``(n, K)`` for the
reference models; scores ``(n,)`` in [0, 1], higher = member. One query per
record.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import clone

from privaudit.attacks.base import ATTACKS
from privaudit.attacks.reference import ReferenceAttack, ReferenceSignals, check_reference_signal
from privaudit.exceptions import ConfigError, DataError

__all__ = ["MIN_ROWS_PER_SIDE", "ShadowModelAttack", "reference_training_rows", "fit_attack_models", "attack_model_scores"]

#: A class gets its own attack model only with at least this many member and non-member rows.
MIN_ROWS_PER_SIDE = 10


def reference_training_rows(features: list[np.ndarray], in_mask: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flatten reference models' features into training rows.

    ``features``: F arrays (n, K); ``in_mask`` (n, K); ``labels`` (n,).
    Returns ``X (n·K, F)``, ``member (n·K,)`` bool, ``classes (n·K,)``.
    """
    n, k = in_mask.shape
    x = np.stack([np.asarray(f, dtype=np.float64).reshape(n * k) for f in features], axis=1)
    return x, np.asarray(in_mask, dtype=bool).reshape(n * k), np.repeat(np.asarray(labels), k)


def _fit(classifier, x, y):
    model = clone(classifier)
    return model.fit(x, y.astype(np.int64))


def _usable(member: np.ndarray) -> bool:
    return min(int(member.sum()), int((~member).sum())) >= MIN_ROWS_PER_SIDE


def fit_attack_models(x, member, classes, classifier, *, per_class: bool, needed_classes) -> tuple[dict, object | None, list]:
    """Fit one attack model per class in ``needed_classes`` (where enough rows) and, if any class lacks one, a pooled model.

    Returns ``(models by class, pooled model or None, classes using the pooled model)``.
    """
    models = {}
    if per_class:
        for c in needed_classes:
            rows = classes == c
            if _usable(member[rows]):
                models[c] = _fit(classifier, x[rows], member[rows])
    fallback = [c for c in needed_classes if c not in models]
    pooled = None
    if fallback:
        if not _usable(member):
            raise DataError(f"shadow_model: the reference models give fewer than {MIN_ROWS_PER_SIDE} member or non-member rows; train more reference models")
        pooled = _fit(classifier, x, member)
    return models, pooled, fallback


def _member_probability(model, x) -> np.ndarray:
    column = int(np.flatnonzero(model.classes_ == 1)[0])
    return model.predict_proba(x)[:, column]


def attack_model_scores(x: np.ndarray, classes: np.ndarray, models: dict, pooled) -> np.ndarray:
    """P(member) per row of ``x`` (n, F), each row by its class's model or the pooled one; shape (n,)."""
    scores = np.empty(x.shape[0])
    for c in np.unique(classes):
        rows = classes == c
        scores[rows] = _member_probability(models.get(c.item(), pooled), x[rows])
    return scores


@ATTACKS.register("shadow_model")
class ShadowModelAttack(ReferenceAttack):
    """Shadow-model attack (Shokri et al. 2017); see the module docstring for the choices made.

    Parameters
    ----------
    classifier : scikit-learn classifier or None
        Attack model with ``predict_proba``; cloned, never fitted in place.
        None means ``HistGradientBoostingClassifier(random_state=random_state)``.
    per_class : bool
        One attack model per true label (the paper), else one for all.
    features : tuple of str
        Signals fed to the attack model.
    max_training_rows : int
        Training rows kept (uniform subsample) to bound fitting time.
    random_state : int
        Seeds the subsample and any classifier whose ``random_state`` is None.

    Attributes
    ----------
    attack_models_ : dict[int, classifier]
    pooled_model_ : classifier or None
    fallback_classes_ : list[int]
    n_training_rows_ : int
    """

    name = "shadow_model"

    def __init__(
        self,
        *,
        classifier=None,
        per_class: bool = True,
        features: tuple[str, ...] = ("confidence", "loss", "entropy"),
        max_training_rows: int = 100_000,
        random_state: int = 0,
    ) -> None:
        self.classifier = classifier
        self.per_class = per_class
        self.features = features
        self.max_training_rows = max_training_rows
        self.random_state = random_state

    @property
    def required_signals(self) -> tuple[str, ...]:
        return tuple(self.features)

    @property
    def display_name(self) -> str:
        return f"{self.name}[{'per class' if self.per_class else 'pooled'}]"

    def _classifier(self):
        if self.classifier is None:
            from sklearn.ensemble import HistGradientBoostingClassifier

            return HistGradientBoostingClassifier(random_state=self.random_state)
        if not hasattr(self.classifier, "predict_proba") or not hasattr(self.classifier, "get_params"):
            raise ConfigError(f"attack '{self.name}': classifier must be a scikit-learn classifier with predict_proba, got {type(self.classifier).__name__}")
        model = clone(self.classifier)
        if "random_state" in model.get_params() and model.get_params()["random_state"] is None:
            model.set_params(random_state=self.random_state)
        return model

    def _training_rows(self, labels, reference: ReferenceSignals):
        n = labels.shape[0]
        features = [check_reference_signal(reference, f, n, self.display_name) for f in self.features]
        if any(f.ndim != 2 for f in features):
            raise DataError(f"attack '{self.display_name}' takes one query per record: reference signals must be (n, K)")
        parts = [reference_training_rows(features, np.asarray(reference.in_mask), labels)]
        population = reference.population_signals
        if population is not None and all(f in population for f in self.features) and (reference.population_labels is not None or not self.per_class):
            z_features = [check_reference_signal(reference, f, n, self.display_name, population=True) for f in self.features]
            z_mask = np.asarray(reference.population_in_mask, dtype=bool)
            z_labels = reference.population_labels if reference.population_labels is not None else np.zeros(z_mask.shape[0], np.int64)
            parts.append(reference_training_rows(z_features, z_mask, np.asarray(z_labels)))
        x, member, classes = (np.concatenate(p) for p in zip(*parts))
        if x.shape[0] > self.max_training_rows:
            keep = np.sort(np.random.default_rng(self.random_state).choice(x.shape[0], self.max_training_rows, replace=False))
            x, member, classes = x[keep], member[keep], classes[keep]
        return x, member, classes

    def _score(self, signals, labels, reference) -> np.ndarray:
        if not isinstance(self.max_training_rows, (int, np.integer)) or self.max_training_rows < 2 * MIN_ROWS_PER_SIDE:
            raise ConfigError(f"attack '{self.name}': max_training_rows must be an integer ≥ {2 * MIN_ROWS_PER_SIDE}, got {self.max_training_rows!r}")
        if not self.features:
            raise ConfigError(f"attack '{self.name}': features must name at least one signal")
        target = np.stack([np.asarray(signals[f], dtype=np.float64) for f in self.features], axis=1)
        if target.ndim != 2:
            raise DataError(f"attack '{self.display_name}' takes one query per record: target signals must be (n,)")
        x, member, classes = self._training_rows(labels, reference)
        needed = [c.item() for c in np.unique(labels)] if self.per_class else [None]
        models, pooled, fallback = fit_attack_models(x, member, classes, self._classifier(), per_class=self.per_class, needed_classes=needed)
        self.attack_models_, self.pooled_model_ = models, pooled
        self.fallback_classes_ = [c for c in fallback if c is not None]
        self.n_training_rows_ = int(x.shape[0])
        if not self.per_class:
            return _member_probability(pooled, target)
        return attack_model_scores(target, labels, models, pooled)
