"""QMIA, membership inference by quantile regression (Bertran et al. 2023, "Scalable Membership Inference Attacks
via Quantile Regression", NeurIPS 2023).

No reference model is trained. One regressor learns, from population records
(known non-members, drawn like the target's non-members), the (1 − α)-quantile
of the target's score given the record:

    q̂(x, y) ≈ inf{ t : Pr[ s(x, y) > t | x, y ] ≤ α }   over non-members (x, y),

by minimising the pinball loss of level τ = 1 − α over population records,

    ℓ_τ(q, s) = τ · max(s − q, 0) + (1 − τ) · max(q − s, 0),

or, in the Gaussian form, the negative log-likelihood
``log σ(x, y) + (s − μ(x, y))² / (2σ(x, y)²)`` with
q = μ + σ·Φ⁻¹(1 − α) (the paper's two objectives; equations are cited here by
their content, not by number). The paper's decision rule flags a record as
a member when ``s(x, y) > q̂(x, y)``; if q̂ were the true conditional
quantile, its false-positive rate on non-members exchangeable with the
population would be α in every region of the feature space, not only on
average. The membership score here is the margin over the predicted
quantile — ``s − q̂`` (quantile model) or ``(s − μ̂)/σ̂`` (Gaussian model,
default) — minus a conformal shift that makes ``score > 0`` flag at most α
of such non-members (below); sweeping a threshold over it traces an ROC.

Choices, following the paper where it decides:

* **score function** s: the paper uses the hinge score, the true class's
  logit minus the largest other logit. Default here ``logit_confidence``,
  φ = log p_y − log Σ_{j≠y} p_j, which *equals* the hinge score for two
  classes and, for C classes, differs from it by at most log(C − 1) (the
  other classes' log-sum-exp instead of their maximum); any registered
  signal may be given (oriented by its ``member_direction``).
* **conditioning on (x, y)**: the paper's regressor sees the record and its
  label (a network with one quantile output per class, read at y). Here the
  label joins the features as one categorical column — also for the gaussian
  model, whose tabular code (``qmia_ACS.py``) regresses on x alone.
* **model** (``model``): the paper regresses the quantile directly with the
  pinball loss (``"quantile"``: ``HistGradientBoostingRegressor(loss="quantile",
  quantile=1 − α)``, score s − q̂), or through a Gaussian whose mean μ(x, y)
  and standard deviation σ(x, y) are predicted, q = μ + σ·Φ⁻¹(1 − α) — the
  choice of the authors' own tabular experiments (amazon-science/quantile-mia,
  ``tabular_QMIA/qmia_ACS.py``: CatBoost with ``RMSEWithUncertainty`` on the
  logit score). ``"gaussian"`` (default) follows that code with scikit-learn:
  μ̂ by squared error, then σ̂² as the mean of the squared residuals
  (Poisson deviance, log link, which estimates a conditional mean of a
  non-negative target); score (s − μ̂)/σ̂, so every FPR is read on one
  standardised scale (the ranking Φ⁻¹ of the Gaussian's quantiles gives).
  On the Adult demo target the pinball model at α = 1 % is much weaker at
  low FPR (BENCHMARKS.md): the logit score's upper tail among non-members is
  heavy, and a 99 % quantile learned from it is mostly noise. Gradient-boosted
  trees are the standard tabular regressor and also run on pixel columns
  (the paper trains a network on images). Limitation: a target whose
  probabilities are exactly 0 or 1 (e.g. a random forest with pure leaves)
  gives logit scores of ±744 whose squared residuals swamp σ̂; on such a
  forest the gaussian model's AUC was 0.56 against LOSS's 0.81 (the quantile
  model 0.81): use ``model: quantile`` or ``signal: confidence`` there.
  Categorical columns (strings, booleans, pandas categories) are coded by the
  categories seen in the population and passed as categorical features;
  unseen categories at scoring time are missing values (HistGradientBoosting's
  own handling). A categorical column with more than 255 categories keeps its
  254 most frequent ones (the rest are missing). Each leaf holds at least
  ``⌈20/α⌉`` population records in the quantile model (:data:`LEAF_EXCEEDANCES`), so about 20 of
  them lie above a leaf's quantile: with ⌈5/α⌉ the leaves' quantiles overfit
  (out-of-sample exceedance 1.3 % at α = 1 % on ``tests/test_qmia.py``'s
  case; 1.1 % with ⌈20/α⌉). Boosting (step 0.05, at most ``max_iter``
  rounds) stops early on a held-out 10 % of the training records (the
  paper also tunes on public data only — never on audited records).
  The gaussian model's leaves hold at least :data:`GAUSSIAN_LEAF` records.
* **conformal shift** (not in the paper): a boosted regressor
  overfits its training records, so out of sample more than α of the
  non-members exceed it (about 1.1 % instead of 1 % in
  ``tests/test_qmia.py``'s case). The regressor is therefore fitted on a seeded 80 % of the
  population, and its margins are lowered by the split-conformal shift c
  computed on the other 20 % (:func:`conformal_shift`; Romano et al. 2019,
  "Conformalized Quantile Regression"): score = margin − c, whose exceedance
  rate on exchangeable non-members is at most α marginally. The shift is
  additive, so with the quantile model regions where the score varies
  little become slightly conservative (0.6–0.9 % instead of 1 % in the
  test's calm region); the gaussian model's margin is already standardised.
* **α** (``fpr``, default 1 %): the level the regressor is fitted for. The
  ROC at other FPRs reads the same margin; it is calibrated only at α.

Refusals: no population records, or fewer than ``max(1000, ⌈10/α⌉)``
(:func:`min_population`) — below that the (1 − α)-quantile has too few
records above it to be learned; a label-only target (the score needs
probabilities, refused before any query by the pipeline).

Calibration assumption (docs/claims.md): the population records are
exchangeable with the audited non-members. Then the fraction of non-members
with score > 0 is α up to the regressor's estimation error (tested by
simulation in ``tests/test_qmia.py``).

Shapes: signals ``(n,)``, labels ``(n,)``, features a DataFrame with n rows
(the same columns at fit and score); scores ``(n,)``, higher = member.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pandas as pd

from privaudit.attacks.base import ATTACKS, SignalAttack
from privaudit.attacks.needs import AttackNeeds
from privaudit.exceptions import ConfigError, DataError, NotFittedError

__all__ = ["QuantileRegressionAttack", "FeatureCoding", "conformal_shift", "min_population", "MAX_CATEGORIES"]

#: HistGradientBoosting's limit on the categories of one categorical feature
MAX_CATEGORIES = 255


#: boosting step size, and records above the quantile each leaf expects (a leaf holds ⌈LEAF_EXCEEDANCES/α⌉ records)
LEARNING_RATE = 0.05
LEAF_EXCEEDANCES = 20
#: fewest population records per leaf of the gaussian model's mean and variance regressors
GAUSSIAN_LEAF = 200
#: smallest σ̂ the gaussian model divides by (units of the score)
SPREAD_FLOOR = 1e-6
#: the regression models: the authors' tabular Gaussian (mean, std) and the paper's pinball quantile regression
MODELS = ("gaussian", "quantile")


def min_population(fpr: float) -> int:
    """Fewest population records QMIA fits on at level ``fpr``: ``max(1000, ⌈10/fpr⌉)`` (≥ 10 expected above the quantile)."""
    return max(1000, math.ceil(10 / fpr))


class FeatureCoding:
    """Turn a feature table (and labels) into the numeric matrix and categorical mask HistGradientBoosting takes.

    Fitted on the population's table: numeric columns pass as float64; any other
    column (strings, booleans, categories) becomes integer codes of the
    categories seen at fit (at most :data:`MAX_CATEGORIES` − 1, the most
    frequent), NaN for missing or unseen values. The label is appended as a
    last column, categorical unless there are more classes than
    HistGradientBoosting's categories allow (then a number).
    """

    def __init__(self, features: pd.DataFrame, labels: np.ndarray) -> None:
        self.columns = [str(c) for c in features.columns]
        self.label_categorical = bool(np.asarray(labels).size == 0 or int(np.max(labels)) < MAX_CATEGORIES - 1)
        self.categories: dict[str, pd.Index] = {}
        for name, column in zip(self.columns, features.columns, strict=True):
            values = features[column]
            if not (pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)):
                frequent = values.astype(str).where(values.notna()).value_counts()
                self.categories[name] = pd.Index(frequent.index[: MAX_CATEGORIES - 1])

    @property
    def categorical_mask(self) -> np.ndarray:
        """Bool ``(n_columns + 1,)``: which columns are categorical (the last one is the label)."""
        return np.array([name in self.categories for name in self.columns] + [self.label_categorical])

    def transform(self, features: pd.DataFrame, labels: np.ndarray) -> np.ndarray:
        """``(n, n_columns + 1)`` float64 matrix; refuses a table whose columns differ from the population's."""
        if [str(c) for c in features.columns] != self.columns:
            raise DataError(f"attack 'qmia': the records' feature columns {list(map(str, features.columns))[:5]}… differ from the "
                            "population's; score records from the same data file as the population")
        matrix = np.empty((len(features), len(self.columns) + 1), dtype=np.float64)
        for j, (name, column) in enumerate(zip(self.columns, features.columns, strict=True)):
            values = features[column]
            if name in self.categories:
                codes = self.categories[name].get_indexer(values.astype(str).where(values.notna()))
                matrix[:, j] = np.where(codes >= 0, codes, np.nan)
            else:
                matrix[:, j] = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
        matrix[:, -1] = np.asarray(labels, dtype=np.float64)
        return matrix


@ATTACKS.register("qmia")
class QuantileRegressionAttack(SignalAttack):
    """Quantile-regression membership inference (Bertran et al. 2023); see the module docstring.

    Needs population records *and their features*: ``fit(signals, labels,
    features=...)`` on population records, ``score(signals, labels,
    features=...)`` on the audited ones (``needs.features``; the pipeline passes them).

    Parameters
    ----------
    fpr : float in (0, 0.5]
        α: the level at which ``score > 0`` is calibrated (and the quantile model's level).
    model : {"gaussian", "quantile"}
        ``"gaussian"`` (default, the authors' tabular code): the score's mean and
        standard deviation given the record, score (s − μ̂)/σ̂; ``"quantile"``:
        the (1 − α)-quantile by pinball loss, score s − q̂.
    signal : str
        Score function s (default ``"logit_confidence"``, the hinge score for two classes).
    max_iter : int
        Most boosting rounds (early stopping on 10 % of the population usually ends sooner).
    seed : int
        Seed of the early-stopping split and of the boosting.

    Attributes
    ----------
    regressor_ : HistGradientBoostingRegressor
        Fitted on the population's (features, label) → oriented score: its
        (1 − α)-quantile (``model="quantile"``) or its mean (``"gaussian"``).
    scale_regressor_ : HistGradientBoostingRegressor or None
        ``"gaussian"``: the mean squared residual σ̂² given (features, label).
    coding_ : FeatureCoding
    n_population_ : int
        Population records fitted on.
    conformal_shift_ : float
        c added to every predicted quantile (see the module docstring).
    fit_seconds_ : float
        Wall time of the regressor's fit and calibration (QMIA's whole training cost).
    calibration_scores_ : ndarray
        Sorted scores of the held-out 20 % of the population (never fitted on): ``predict``'s
        split-conformal thresholds at any FPR.

    Example
    -------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> x = pd.DataFrame({"x": rng.uniform(0, 1, 2000)})
    >>> s = rng.normal(0, 1 + 3 * x["x"].to_numpy())       # spread grows with x
    >>> attack = QuantileRegressionAttack(signal="confidence", fpr=0.1, model="quantile")
    >>> attack = attack.fit({"confidence": s}, np.zeros(2000, int), features=x)
    >>> bool(abs((attack.score({"confidence": s}, np.zeros(2000, int), features=x) > 0).mean() - 0.1) < 0.03)
    True
    """

    name = "qmia"
    needs_population = True

    def __init__(self, *, fpr: float = 0.01, model: str = "gaussian", signal: str = "logit_confidence", max_iter: int = 300,
                 seed: int = 0) -> None:
        self.fpr = fpr
        self.model = model
        self.signal = signal
        self.max_iter = max_iter
        self.seed = seed

    @property
    def display_name(self) -> str:
        return f"{self.name}[{self.model},{self.signal}]"

    @property
    def needs(self) -> AttackNeeds:
        """Its signal and the records' features, on population records (fit) and audited records (score)."""
        return AttackNeeds(signals=(self.signal,), population=True, features=True)

    def _check_params(self) -> None:
        if not (isinstance(self.fpr, (int, float)) and 0 < self.fpr <= 0.5):
            raise ConfigError(f"attack 'qmia': fpr must lie in (0, 0.5], got {self.fpr!r}")
        if self.model not in MODELS:
            raise ConfigError(f"attack 'qmia': model must be one of {', '.join(MODELS)}, got {self.model!r}")
        if not (isinstance(self.max_iter, int) and self.max_iter >= 1):
            raise ConfigError(f"attack 'qmia': max_iter must be a positive integer, got {self.max_iter!r}")

    def fit(self, signals, labels, *, features: pd.DataFrame | None = None) -> "QuantileRegressionAttack":
        """Fit the regressor(s) on population records and the conformal shift; returns ``self``."""
        self._check_params()
        labels = np.asarray(labels)
        oriented = self._oriented(signals, labels)
        features = _check_features(features, labels.size)
        needed = min_population(self.fpr)
        if labels.size < needed:
            raise DataError(f"attack 'qmia' needs at least {needed:,} population records at fpr = {self.fpr:g} (so about 10 lie above "
                            f"the {1 - self.fpr:g}-quantile it learns); the data has {labels.size:,}: add population records or raise fpr")
        self.coding_ = FeatureCoding(features, labels)
        matrix = self.coding_.transform(features, labels)
        calibration = np.random.default_rng([int(self.seed), 0x0A11]).permutation(labels.size)
        calibration, train = calibration[: labels.size // 5], calibration[labels.size // 5:]
        started = time.perf_counter()
        if self.model == "quantile":
            self.regressor_ = self._regressor("quantile", math.ceil(LEAF_EXCEEDANCES / self.fpr)).fit(matrix[train], oriented[train])
            self.scale_regressor_ = None
        else:  # mean by squared error, then the variance as the mean of the squared residuals (Poisson deviance, log link)
            self.regressor_ = self._regressor("squared_error", GAUSSIAN_LEAF).fit(matrix[train], oriented[train])
            squares = (oriented[train] - self.regressor_.predict(matrix[train])) ** 2
            self.scale_regressor_ = self._regressor("poisson", GAUSSIAN_LEAF).fit(matrix[train], squares)
        held_out = self._margin(oriented[calibration], matrix[calibration])
        self.conformal_shift_ = conformal_shift(held_out, self.fpr)
        self.fit_seconds_ = time.perf_counter() - started
        self.n_population_ = int(labels.size)
        self.calibration_scores_ = np.sort(held_out - self.conformal_shift_)
        return self

    def _regressor(self, loss: str, leaf: int):
        from sklearn.ensemble import HistGradientBoostingRegressor

        return HistGradientBoostingRegressor(
            loss=loss, max_iter=self.max_iter, learning_rate=LEARNING_RATE, min_samples_leaf=leaf,
            categorical_features=self.coding_.categorical_mask, early_stopping=True, validation_fraction=0.1,
            n_iter_no_change=20, random_state=self.seed, **({"quantile": 1 - self.fpr} if loss == "quantile" else {}),
        )

    def _margin(self, oriented: np.ndarray, matrix: np.ndarray) -> np.ndarray:
        """s − q̂ (quantile model) or (s − μ̂)/σ̂ (gaussian model), before the conformal shift."""
        centre = self.regressor_.predict(matrix)
        if self.scale_regressor_ is None:
            return oriented - centre
        spread = np.sqrt(np.maximum(self.scale_regressor_.predict(matrix), 0.0))
        return (oriented - centre) / np.maximum(spread, SPREAD_FLOOR)

    def score(self, signals, labels, *, features: pd.DataFrame | None = None) -> np.ndarray:
        """The margin over the record's predicted non-member quantile, shape (n,); > 0 means flagged at level ``fpr``."""
        if not hasattr(self, "regressor_"):
            raise NotFittedError(f"attack '{self.display_name}' is not fitted: call fit() on population records (with their features) first")
        labels = np.asarray(labels)
        oriented = self._oriented(signals, labels)
        features = _check_features(features, labels.size)
        return self._margin(oriented, self.coding_.transform(features, labels)) - self.conformal_shift_

    def predict(self, signals, labels, *, fpr: float, features: pd.DataFrame | None = None) -> np.ndarray:
        """Member decisions ``score > t``, with t the split-conformal threshold at ``fpr`` on the held-out scores.

        t is the ⌈(m + 1)(1 − fpr)⌉-th smallest of the m held-out population scores
        (:func:`conformal_shift`), so a non-member exchangeable with the population is
        flagged with probability ≤ ``fpr``; at ``fpr = self.fpr``, t = 0 (``score > 0``).
        Thresholds read from the margins the regressor was fitted on sat lower than
        out-of-sample ones (10.8 % of fresh non-members flagged at ``fpr`` = 10 %).
        """
        if not hasattr(self, "regressor_"):
            raise NotFittedError(f"attack '{self.display_name}' is not fitted: call fit() on population records (with their features) first")
        if not 0 < fpr < 1:
            raise ValueError("fpr must lie in (0, 1)")
        threshold = conformal_shift(self.calibration_scores_, fpr)
        return self.score(signals, labels, features=features) > threshold


def conformal_shift(residuals: np.ndarray, fpr: float) -> float:
    """Split-conformal shift c (Romano et al. 2019): the ⌈(m + 1)(1 − α)⌉-th smallest of m held-out residuals s − q̂.

    For a new record exchangeable with the held-out ones, Pr[s − q̂ > c] ≤ α exactly (and ≥ α − 1/(m + 1)
    without ties). With too few residuals for that rank (m < 1/α − 1), the largest one.

    >>> conformal_shift(np.arange(99.0), 0.1)
    89.0
    """
    ordered = np.sort(np.asarray(residuals, dtype=np.float64))
    rank = math.ceil((ordered.size + 1) * (1 - fpr))
    return float(ordered[min(rank, ordered.size) - 1])


def _check_features(features, n: int) -> pd.DataFrame:
    if features is None:
        raise DataError("attack 'qmia' needs the records' features (features=...): it regresses the score on each record's features and label")
    if not isinstance(features, pd.DataFrame):
        features = pd.DataFrame(np.asarray(features))
    if len(features) != n:
        raise DataError(f"attack 'qmia': {len(features)} feature rows for {n} records; give one row per record")
    if features.shape[1] == 0:
        raise DataError("attack 'qmia' needs feature columns to regress on, and the records have none (a precomputed target's file?); "
                        "use classwise_threshold instead, or add the feature columns to the data file")
    return features
