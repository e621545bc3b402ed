"""Column handling shared by the profile models: numeric vs categorical, empirical CDF bands, normal scores."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import ndtri

from privaudit.exceptions import DataError


def is_numeric_column(series: pd.Series) -> bool:
    """Numeric = numeric dtype other than bool; everything else is categorical."""
    return bool(pd.api.types.is_numeric_dtype(series.dtype)) and not pd.api.types.is_bool_dtype(series.dtype)


def band_uniforms(codes: np.ndarray, band_lower: np.ndarray, band_upper: np.ndarray, rng: np.random.Generator) -> np.ndarray:
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


def correlation_of_scores(scores: np.ndarray) -> np.ndarray:
    """Pearson correlation of columns of ``scores`` ``(n, d)``; a constant column correlates 0 with the rest."""
    centred = scores - scores.mean(axis=0)
    norms = np.sqrt((centred**2).sum(axis=0))
    norms[norms == 0] = np.inf
    matrix = (centred.T @ centred) / np.outer(norms, norms)
    np.fill_diagonal(matrix, 1.0)
    return matrix


def mid_rank_normal_scores(values: np.ndarray) -> np.ndarray:
    """Deterministic normal scores from average ranks (van der Waerden); ties share one score."""
    ranks = pd.Series(values).rank(method="average").to_numpy()
    return ndtri((ranks - 0.5) / values.size)


def validated_columns(frame: pd.DataFrame, features_param, label, who: str) -> tuple[list[str], np.ndarray | None]:
    """Feature names and label values of ``frame``; clear errors for missing, non-finite or overlapping columns."""
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"{who}.fit needs a pandas DataFrame, got {type(frame).__name__}")
    if label is not None and label not in frame.columns:
        raise DataError(f"label column '{label}' is not in the frame")
    features = list(features_param) if features_param is not None else [c for c in frame.columns if c != label]
    missing = [c for c in features if c not in frame.columns]
    if missing:
        raise DataError(f"feature column(s) {missing} are not in the frame")
    if label is not None and label in features:
        raise DataError(f"column '{label}' cannot be both a feature and the label")
    if not features:
        raise DataError(f"{who} needs at least one feature column")
    if len(frame) < 2:
        raise DataError(f"{who} needs at least 2 records to estimate a correlation; got {len(frame)}")
    for c in features + ([label] if label is not None else []):
        n_missing = int(frame[c].isna().sum())
        if n_missing:
            raise DataError(f"column '{c}' has {n_missing} missing value(s); impute or drop them before fitting")
        if is_numeric_column(frame[c]) and not np.isfinite(frame[c].to_numpy(dtype=float)).all():
            raise DataError(f"column '{c}' has infinite values")
    label_values = frame[label].to_numpy() if label is not None else None
    return features, label_values


def sample_size(n) -> int:
    """``n`` as an int, or a clear error for anything but a non-negative integer."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise DataError(f"n must be a non-negative integer, got {n!r}")
    return int(n)


def label_codes(labels, classes: np.ndarray, label: str | None, n: int, who: str) -> np.ndarray:
    """Index of each requested label value among the fitted ``classes``; clear errors for unknown values or a wrong length."""
    if label is None:
        raise DataError(f"labels were given, but this {who} was fitted without a label column")
    labels = np.asarray(labels, dtype=object).ravel()
    if labels.size != n:
        raise DataError(f"labels has {labels.size} values for n={n} records")
    codes = pd.Index(classes).get_indexer(labels)
    if (codes < 0).any():
        unknown = sorted({str(v) for v in labels[codes < 0]})[:5]
        raise DataError(f"label column '{label}' has no fitted class {unknown}; known classes: {[str(c) for c in classes]}")
    return codes

