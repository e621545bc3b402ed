"""Fabricated profiles: synthetic records drawn from a model of the population.

A record-level membership test needs a null distribution: scores of records that
were surely *not* in training. When too few real non-members exist, this module
fabricates them from a **class-conditional Gaussian copula** fitted on population
records, and measures how alike the fabricated and real records are
(:func:`fidelity_report`), so that the fidelity can be reported beside the result.

Method
------
By **Sklar's theorem** every joint distribution of columns ``X_1..X_d`` can be
written as its marginals ``F_j`` bound together by a copula ``C``:
``F(x_1..x_d) = C(F_1(x_1), .., F_d(x_d))``. A Gaussian copula takes ``C`` from a
multivariate normal with correlation matrix ``R``. Per label class ``k``:

1. **Marginals.** Numeric columns keep their *empirical* distribution (the sorted
   observed values); categorical columns (object, string, category or bool dtype)
   their category frequencies. No parametric family is assumed.
2. **Normal scores.** Each value is mapped to a uniform ``u`` in its band
   ``[F(x−), F(x))`` (the distributional transform: a point mass, such as
   ``capital_gain == 0`` or the category ``"Private"``, is spread uniformly over
   its band, drawn with the model's seed), then to ``z = Φ⁻¹(u)``. A category
   ``c`` occupies the band ``[F(c−), F(c))`` of ``U(0, 1)``; categories are
   ordered by their mean normal score on the numeric column they are most
   associated with (largest correlation ratio), or by frequency when there is no
   numeric column, so that a monotone link such as ``education`` ↔
   ``education_num`` survives.
3. **Correlation.** ``R_k`` is the correlation matrix of the normal scores,
   shrunk towards the identity by ``λ = min(shrinkage, d / n_k)`` and made
   positive definite (eigenvalues clipped at ``1e-6``, unit diagonal restored).
   A class with fewer than ``2·d`` records uses the pooled (within-class)
   correlation instead.

Sampling draws ``z ~ N(0, R_k)``, sets ``u = Φ(z)`` and inverts each marginal:
numeric columns by the interpolated inverse empirical CDF (integer columns
rounded and clipped to the observed range), categorical columns by locating
``u`` among the category bands. Labels are drawn by their frequencies unless
given.

Limits
------
* A Gaussian copula has only pairwise, *monotone* dependence: it cannot
  reproduce non-monotone links (``y ≈ x²``), tail dependence, or three-way
  interactions; categorical columns enter through one ordering of their
  categories, so links with a second numeric column may be lost.
* Rare categories are preserved only in frequency, not in their links to other
  columns; categories never observed in a class never appear in that class.
* Numeric values are interpolated between observed values, never outside the
  observed range. The marginals copy real values: fabricated profiles are a
  null for a membership test, **not** a privacy-preserving data release.

Example
-------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> frame = pd.DataFrame({"age": rng.integers(18, 90, 400), "city": rng.choice(["a", "b"], 400),
...                       "label": rng.choice([0, 1], 400)})
>>> model = ProfileModel(label="label", seed=0).fit(frame)
>>> fake = model.sample(5, seed=1)
>>> list(fake.columns), fake["age"].dtype == frame["age"].dtype
(['age', 'city', 'label'], True)
>>> set(fake["city"]) <= {"a", "b"}
True
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

from privaudit.exceptions import DataError, NotFittedError

__all__ = ["ProfileModel", "fidelity_report"]

_MIN_EIGENVALUE = 1e-6


# --------------------------------------------------------------------------- pure maths


def _is_numeric_column(series: pd.Series) -> bool:
    """Numeric = numeric dtype other than bool; everything else is categorical."""
    return bool(pd.api.types.is_numeric_dtype(series.dtype)) and not pd.api.types.is_bool_dtype(series.dtype)


def _band_uniforms(codes: np.ndarray, band_lower: np.ndarray, band_upper: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Uniform draw inside each value's band ``[F(x−), F(x))``, kept off 0 and 1. Shape ``(n,)``."""
    lower, upper = band_lower[codes], band_upper[codes]
    u = lower + rng.random(codes.size) * (upper - lower)
    half_step = 0.5 / max(codes.size, 1)
    return np.clip(u, half_step, 1.0 - half_step)


def numeric_normal_scores(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Normal scores ``Φ⁻¹(u)`` of numeric values under their own empirical CDF (ties spread by ``rng``)."""
    sorted_values = np.sort(values)
    below = np.searchsorted(sorted_values, values, side="left") / values.size
    at_or_below = np.searchsorted(sorted_values, values, side="right") / values.size
    u = below + rng.random(values.size) * (at_or_below - below)
    half_step = 0.5 / values.size
    return ndtri(np.clip(u, half_step, 1.0 - half_step))


def empirical_inverse_cdf(sorted_values: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Interpolated inverse empirical CDF: the i-th sorted value sits at ``(i + 0.5) / n``. Shape of ``u``."""
    n = sorted_values.size
    grid = (np.arange(n) + 0.5) / n
    return np.interp(u, grid, sorted_values)


def category_bands(codes: np.ndarray, n_categories: int) -> tuple[np.ndarray, np.ndarray]:
    """Frequencies of codes ``0..n_categories-1`` as bands: returns ``(F(c−), F(c))``, each ``(n_categories,)``."""
    counts = np.bincount(codes, minlength=n_categories)
    upper = np.cumsum(counts) / max(codes.size, 1)  # integer sums: the last band ends at exactly 1.0
    return upper - counts / max(codes.size, 1), upper


def nearest_correlation(matrix: np.ndarray, shrinkage: float) -> np.ndarray:
    """Shrink a correlation matrix towards the identity and make it positive definite with unit diagonal."""
    d = matrix.shape[0]
    matrix = np.nan_to_num(matrix, nan=0.0)
    matrix = (1.0 - shrinkage) * matrix + shrinkage * np.eye(d)
    matrix = (matrix + matrix.T) / 2.0
    eigenvalues, eigenvectors = np.linalg.eigh(matrix)
    matrix = (eigenvectors * np.clip(eigenvalues, _MIN_EIGENVALUE, None)) @ eigenvectors.T
    scale = np.sqrt(np.diag(matrix))
    matrix = matrix / np.outer(scale, scale)
    np.fill_diagonal(matrix, 1.0)
    return matrix


def correlation_of_scores(scores: np.ndarray) -> np.ndarray:
    """Pearson correlation of columns of ``scores`` ``(n, d)``; a constant column correlates 0 with the rest."""
    centred = scores - scores.mean(axis=0)
    norms = np.sqrt((centred**2).sum(axis=0))
    norms[norms == 0] = np.inf
    matrix = (centred.T @ centred) / np.outer(norms, norms)
    np.fill_diagonal(matrix, 1.0)
    return matrix


def _mid_rank_normal_scores(values: np.ndarray) -> np.ndarray:
    """Deterministic normal scores from average ranks (van der Waerden); ties share one score."""
    ranks = pd.Series(values).rank(method="average").to_numpy()
    return ndtri((ranks - 0.5) / values.size)


def _category_order(codes: np.ndarray, n_categories: int, numeric_scores: np.ndarray) -> np.ndarray:
    """Order of categories: by mean score on the most associated numeric column, else by frequency.

    ``numeric_scores`` is ``(n, n_numeric)`` of mid-rank normal scores. Association is the correlation
    ratio η² (between-category share of variance).
    """
    counts = np.bincount(codes, minlength=n_categories)
    by_frequency = np.lexsort((np.arange(n_categories), -counts))
    if numeric_scores.shape[1] == 0 or n_categories < 3:
        return by_frequency
    safe_counts = np.maximum(counts, 1)
    best_eta, best_means = 0.0, None
    for column in numeric_scores.T:
        total = ((column - column.mean()) ** 2).sum()
        if total == 0:
            continue
        means = np.bincount(codes, weights=column, minlength=n_categories) / safe_counts
        eta = float((counts * (means - column.mean()) ** 2).sum() / total)
        if eta > best_eta:
            best_eta, best_means = eta, means
    if best_means is None:
        return by_frequency
    return np.lexsort((np.arange(n_categories), best_means))


# --------------------------------------------------------------------------- fitted model


class ProfileModel:
    """Class-conditional Gaussian copula with empirical marginals (see the module docstring).

    Parameters
    ----------
    features : list of str, optional
        Columns to model; default: every column but ``label``.
    label : str, optional
        Class column; the copula is fitted separately for each class. ``None``
        fits one unconditional copula.
    seed : int
        Seed of the tie-spreading draws in ``fit`` and the default seed of ``sample``.
    shrinkage : float
        Largest shrinkage of each class's correlation towards the identity; the
        one used is ``min(shrinkage, d / n_class)``.

    Attributes
    ----------
    features_, numeric_features_, categorical_features_ : list of str
    dtypes_ : dict
        Column name → dtype, restored by ``sample``.
    classes_ : ndarray of shape (n_classes,)
        Label values (``[None]`` without a label).
    class_priors_ : ndarray of shape (n_classes,)
    categories_ : dict
        Categorical column → ndarray of its categories in copula order.
    marginals_ : list of dict
        Per class, column → sorted values (numeric) or ``(F(c−), F(c))`` bands (categorical).
    correlations_ : ndarray of shape (n_classes, d, d)
        Correlation of normal scores used for each class (after shrinkage).
    pooled_correlation_ : ndarray of shape (d, d)
    uses_pooled_correlation_ : ndarray of bool, shape (n_classes,)
    n_features_in_ : int
    """

    def __init__(self, *, features: list[str] | None = None, label: str | None = None, seed: int = 0, shrinkage: float = 0.05):
        self.features = features
        self.label = label
        self.seed = seed
        self.shrinkage = shrinkage

    # ----------------------------------------------------------------- fit

    def fit(self, frame: pd.DataFrame) -> "ProfileModel":
        """Fit marginals and normal-score correlations per class. ``frame``: one row per record."""
        features, label_values = self._validated_columns(frame)
        rng = np.random.default_rng(self.seed)
        n, d = len(frame), len(features)

        numeric = [c for c in features if _is_numeric_column(frame[c])]
        categorical = [c for c in features if c not in numeric]
        self.features_ = list(features)
        self.numeric_features_ = numeric
        self.categorical_features_ = categorical
        self.dtypes_ = {c: frame[c].dtype for c in features}
        if self.label is not None:
            self.dtypes_[self.label] = frame[self.label].dtype
        self.n_features_in_ = d

        numeric_values = {c: frame[c].to_numpy(dtype=float) for c in numeric}
        mid_scores = np.column_stack([_mid_rank_normal_scores(numeric_values[c]) for c in numeric]) if numeric else np.empty((n, 0))
        category_codes = {}
        self.categories_ = {}
        for c in categorical:
            codes, uniques = pd.factorize(frame[c], sort=False)
            order = _category_order(codes, uniques.size, mid_scores)
            rank_of = np.empty_like(order)
            rank_of[order] = np.arange(order.size)
            category_codes[c] = rank_of[codes]
            self.categories_[c] = np.asarray(uniques, dtype=object)[order]

        if self.label is None:
            class_codes, self.classes_ = np.zeros(n, dtype=np.intp), np.array([None], dtype=object)
        else:
            class_codes, classes = pd.factorize(pd.Series(label_values), sort=True)
            self.classes_ = np.asarray(classes, dtype=object)
        self.class_priors_ = np.bincount(class_codes, minlength=self.classes_.size) / n

        self.marginals_, class_scores = [], []
        for k in range(self.classes_.size):
            rows = np.flatnonzero(class_codes == k)
            marginals, scores = {}, np.empty((rows.size, d))
            for j, c in enumerate(features):
                if c in numeric_values:
                    values = numeric_values[c][rows]
                    marginals[c] = np.sort(values)
                    scores[:, j] = numeric_normal_scores(values, rng)
                else:
                    codes = category_codes[c][rows]
                    lower, upper = category_bands(codes, self.categories_[c].size)
                    marginals[c] = (lower, upper)
                    scores[:, j] = ndtri(_band_uniforms(codes, lower, upper, rng))
            self.marginals_.append(marginals)
            class_scores.append(scores)

        self.pooled_correlation_ = nearest_correlation(correlation_of_scores(np.vstack(class_scores)), min(self.shrinkage, d / n))
        correlations, pooled_flags = [], []
        for scores in class_scores:
            if scores.shape[0] < 2 * d:
                correlations.append(self.pooled_correlation_)
                pooled_flags.append(True)
            else:
                correlations.append(nearest_correlation(correlation_of_scores(scores), min(self.shrinkage, d / scores.shape[0])))
                pooled_flags.append(False)
        self.correlations_ = np.stack(correlations)
        self.uses_pooled_correlation_ = np.array(pooled_flags)
        return self

    def _validated_columns(self, frame: pd.DataFrame) -> tuple[list[str], np.ndarray | None]:
        if not isinstance(frame, pd.DataFrame):
            raise DataError(f"ProfileModel.fit needs a pandas DataFrame, got {type(frame).__name__}")
        if self.label is not None and self.label not in frame.columns:
            raise DataError(f"label column '{self.label}' is not in the frame")
        features = list(self.features) if self.features is not None else [c for c in frame.columns if c != self.label]
        missing = [c for c in features if c not in frame.columns]
        if missing:
            raise DataError(f"feature column(s) {missing} are not in the frame")
        if self.label is not None and self.label in features:
            raise DataError(f"column '{self.label}' cannot be both a feature and the label")
        if not features:
            raise DataError("ProfileModel needs at least one feature column")
        if len(frame) < 2:
            raise DataError(f"ProfileModel needs at least 2 records to estimate a correlation; got {len(frame)}")
        for c in features + ([self.label] if self.label is not None else []):
            n_missing = int(frame[c].isna().sum())
            if n_missing:
                raise DataError(f"column '{c}' has {n_missing} missing value(s); impute or drop them before fitting")
            if _is_numeric_column(frame[c]) and not np.isfinite(frame[c].to_numpy(dtype=float)).all():
                raise DataError(f"column '{c}' has infinite values")
        label_values = frame[self.label].to_numpy() if self.label is not None else None
        return features, label_values

    # ----------------------------------------------------------------- sample

    def sample(self, n: int, *, labels=None, seed: int | None = None) -> pd.DataFrame:
        """Draw ``n`` fabricated records, columns ``features + [label]`` with the fitted dtypes.

        ``labels``: one label value per row to condition on (shape ``(n,)``), or
        ``None`` to draw labels by their fitted frequencies. ``seed`` defaults to
        the model's ``seed``; the same seed gives the same records.
        """
        if not hasattr(self, "correlations_"):
            raise NotFittedError("this ProfileModel is not fitted yet: call fit(frame) first")
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise DataError(f"n must be a non-negative integer, got {n!r}")
        n = int(n)
        rng = np.random.default_rng(self.seed if seed is None else seed)
        class_codes = self._class_codes(n, labels, rng)

        columns = {c: np.empty(n, dtype=float if c in self.numeric_features_ else object) for c in self.features_}
        for k in range(self.classes_.size):
            rows = np.flatnonzero(class_codes == k)
            if rows.size == 0:
                continue
            cholesky = np.linalg.cholesky(self.correlations_[k])
            u = ndtr(rng.standard_normal((rows.size, self.n_features_in_)) @ cholesky.T)
            for j, c in enumerate(self.features_):
                marginal = self.marginals_[k][c]
                if c in self.numeric_features_:
                    columns[c][rows] = empirical_inverse_cdf(marginal, u[:, j])
                else:
                    _, upper = marginal
                    codes = np.minimum(np.searchsorted(upper, u[:, j], side="right"), upper.size - 1)
                    columns[c][rows] = self.categories_[c][codes]

        out = pd.DataFrame({c: self._restore_dtype(c, columns[c]) for c in self.features_})
        if self.label is not None:
            out[self.label] = pd.Series(self.classes_[class_codes], dtype=object).astype(self.dtypes_[self.label])
        return out

    def _class_codes(self, n: int, labels, rng: np.random.Generator) -> np.ndarray:
        if labels is None:
            return rng.choice(self.classes_.size, size=n, p=self.class_priors_)
        if self.label is None:
            raise DataError("labels were given, but this ProfileModel was fitted without a label column")
        labels = np.asarray(labels, dtype=object).ravel()
        if labels.size != n:
            raise DataError(f"labels has {labels.size} values for n={n} records")
        codes = pd.Index(self.classes_).get_indexer(labels)
        if (codes < 0).any():
            unknown = sorted({str(v) for v in labels[codes < 0]})[:5]
            raise DataError(f"label column '{self.label}' has no fitted class {unknown}; known classes: {[str(c) for c in self.classes_]}")
        return codes

    def _restore_dtype(self, column: str, values: np.ndarray) -> pd.Series:
        dtype = self.dtypes_[column]
        if column in self.numeric_features_:
            if pd.api.types.is_integer_dtype(dtype):
                observed = np.concatenate([m[column] for m in self.marginals_])
                values = np.clip(np.rint(values), observed.min(), observed.max())
            return pd.Series(values).astype(dtype)
        return pd.Series(values, dtype=object).astype(dtype)


# --------------------------------------------------------------------------- fidelity


def _total_variation(real: pd.Series, synthetic: pd.Series) -> float:
    p = real.value_counts(normalize=True)
    q = synthetic.value_counts(normalize=True)
    p, q = p.align(q, fill_value=0.0)
    return float(0.5 * np.abs(p.to_numpy() - q.to_numpy()).sum())


def _codes_by_real_frequency(real: pd.Series, synthetic: pd.Series, max_codes: int = 250) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes shared by both frames, most frequent real category first; rare ones pooled in the last code."""
    order = pd.concat([real, synthetic], ignore_index=True).astype(object)
    counts = real.astype(object).value_counts()
    ranking = list(counts.index) + [v for v in pd.unique(order) if v not in counts.index]
    code_of = {v: min(i, max_codes) for i, v in enumerate(ranking)}
    return real.astype(object).map(code_of).to_numpy(dtype=float), synthetic.astype(object).map(code_of).to_numpy(dtype=float)


def _distinguishability_auc(real_x: np.ndarray, synthetic_x: np.ndarray, categorical_mask: np.ndarray, seed: int) -> float:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from threadpoolctl import threadpool_limits

    x = np.vstack([real_x, synthetic_x])
    y = np.r_[np.zeros(len(real_x)), np.ones(len(synthetic_x))]
    classifier = HistGradientBoostingClassifier(
        max_iter=50, categorical_features=categorical_mask if categorical_mask.any() else None,
        early_stopping=False, random_state=seed,
    )
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
    with threadpool_limits(limits=1, user_api="openmp"):  # OpenMP spinning is slow on shared cores
        probabilities = cross_val_predict(classifier, x, y, cv=folds, method="predict_proba")[:, 1]
    return float(roc_auc_score(y, probabilities))


def _auc_in_words(auc: float | None) -> str:
    if auc is None:
        return "too few records to test whether a classifier can tell them apart"
    if auc < 0.55:
        return f"a classifier can hardly tell them from real records (AUC {auc:.2f}; 0.5 = indistinguishable)"
    if auc < 0.7:
        return f"a classifier tells them from real records somewhat (AUC {auc:.2f}; 0.5 = indistinguishable)"
    return f"a classifier tells them from real records easily (AUC {auc:.2f}; 0.5 = indistinguishable)"


def fidelity_report(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    *,
    features: list[str],
    label: str | None = None,
    max_rows_per_side: int = 5000,
    seed: int = 0,
) -> dict:
    """How alike are ``synthetic`` and ``real`` records? A JSON-able dict of plain floats.

    Keys
    ----
    ``numeric``: per numeric column, two-sample KS statistic and the mean / std
    of each side with their difference (synthetic − real). ``categorical``: per
    categorical column (the label included), total-variation distance of the
    category frequencies (0 = same, 1 = disjoint). ``correlation``: largest
    absolute difference between the real and synthetic correlation matrices of
    mid-rank normal scores (categories coded by real frequency), and its pair.
    ``distinguishability_auc``: cross-validated (5 folds, seeded) AUC of a
    HistGradientBoostingClassifier telling real from synthetic on up to
    ``max_rows_per_side`` rows of each — 0.5 means indistinguishable, 1 means
    always told apart; ``None`` with fewer than 10 rows a side. ``summary``: one
    line in plain words. Also flat ``max_ks``, ``max_tvd``,
    ``max_correlation_difference``.
    """
    from scipy.stats import ks_2samp

    if not isinstance(real, pd.DataFrame) or not isinstance(synthetic, pd.DataFrame):
        raise DataError("fidelity_report needs two pandas DataFrames")
    columns = list(features) + ([label] if label is not None and label not in features else [])
    for name, frame in (("real", real), ("synthetic", synthetic)):
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise DataError(f"column(s) {missing} are not in the {name} records")
        if len(frame) == 0:
            raise DataError(f"the {name} records are empty")
    real = real[columns].dropna()
    synthetic = synthetic[columns].dropna()
    if len(real) == 0 or len(synthetic) == 0:
        raise DataError("no complete rows to compare after dropping missing values")

    numeric = [c for c in columns if _is_numeric_column(real[c]) and _is_numeric_column(synthetic[c])]
    categorical = [c for c in columns if c not in numeric]
    numeric_report = {}
    for c in numeric:
        r, s = real[c].to_numpy(dtype=float), synthetic[c].to_numpy(dtype=float)
        numeric_report[c] = {
            "ks": float(ks_2samp(r, s, method="asymp").statistic),
            "mean_real": float(r.mean()), "mean_synthetic": float(s.mean()), "mean_difference": float(s.mean() - r.mean()),
            "std_real": float(r.std()), "std_synthetic": float(s.std()), "std_difference": float(s.std() - r.std()),
        }
    categorical_report = {}
    encoded_real, encoded_synthetic = {}, {}
    for c in categorical:
        categorical_report[c] = {
            "tvd": _total_variation(real[c].astype(object), synthetic[c].astype(object)),
            "n_categories_real": int(real[c].nunique()),
            "n_categories_synthetic": int(synthetic[c].nunique()),
        }
        encoded_real[c], encoded_synthetic[c] = _codes_by_real_frequency(real[c], synthetic[c])
    for c in numeric:
        encoded_real[c], encoded_synthetic[c] = real[c].to_numpy(dtype=float), synthetic[c].to_numpy(dtype=float)

    real_x = np.column_stack([encoded_real[c] for c in columns])
    synthetic_x = np.column_stack([encoded_synthetic[c] for c in columns])
    largest_gap, pair = 0.0, None
    if len(columns) > 1 and len(real) > 1 and len(synthetic) > 1:
        real_corr = correlation_of_scores(np.column_stack([_mid_rank_normal_scores(col) for col in real_x.T]))
        synthetic_corr = correlation_of_scores(np.column_stack([_mid_rank_normal_scores(col) for col in synthetic_x.T]))
        gaps = np.abs(real_corr - synthetic_corr)
        i, j = np.unravel_index(int(np.argmax(gaps)), gaps.shape)
        largest_gap, pair = float(gaps[i, j]), [columns[min(i, j)], columns[max(i, j)]]

    rng = np.random.default_rng(seed)
    per_side = min(len(real_x), len(synthetic_x), max_rows_per_side)
    auc = None
    if per_side >= 10:
        real_rows = rng.choice(len(real_x), per_side, replace=False)
        synthetic_rows = rng.choice(len(synthetic_x), per_side, replace=False)
        mask = np.array([c in categorical for c in columns])
        auc = _distinguishability_auc(real_x[real_rows], synthetic_x[synthetic_rows], mask, seed)

    max_ks = max((v["ks"] for v in numeric_report.values()), default=0.0)
    max_tvd = max((v["tvd"] for v in categorical_report.values()), default=0.0)
    parts = [f"{len(synthetic)} fabricated vs {len(real)} real records: {_auc_in_words(auc)}"]
    if numeric_report:
        worst = max(numeric_report, key=lambda c: numeric_report[c]["ks"])
        parts.append(f"worst numeric marginal {worst} (KS {max_ks:.3f})")
    if categorical_report:
        worst = max(categorical_report, key=lambda c: categorical_report[c]["tvd"])
        parts.append(f"worst categorical marginal {worst} (TVD {max_tvd:.3f})")
    if pair is not None:
        parts.append(f"largest correlation gap {largest_gap:.2f} ({pair[0]} vs {pair[1]})")
    return {
        "n_real": int(len(real)),
        "n_synthetic": int(len(synthetic)),
        "numeric": numeric_report,
        "categorical": categorical_report,
        "correlation": {"method": "mid-rank normal scores", "max_abs_difference": largest_gap, "pair": pair},
        "distinguishability_auc": auc,
        "distinguishability_classifier": "HistGradientBoostingClassifier, 5-fold cross_val_predict",
        "max_ks": float(max_ks),
        "max_tvd": float(max_tvd),
        "max_correlation_difference": largest_gap,
        "summary": "; ".join(parts) + ".",
    }
