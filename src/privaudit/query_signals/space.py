"""Where records are perturbed: numeric columns in standardised units, categorical columns as value codes.

A :class:`FeatureSpace` is fitted on the feature table of the records that are
about to be perturbed (the audited records: the attacker holds them anyway,
and no membership information enters the fit).

* **Numeric** columns (a pandas numeric dtype other than bool): the scale
  ``s_j`` is the column's standard deviation (ddof 0) over the fitted records.
  A step ``δ`` in standardised units moves the raw value by ``s_j · δ_j``, so
  distances are L2 norms of ``δ``: one unit = one standard deviation in every
  column. Perturbed values are clipped to the column's observed ``[min, max]``
  (no negative ages, no hours above the largest seen) and, when every observed
  value is a whole number (ages, counts), rounded to whole numbers — the model
  is only ever asked about records of the kind it was trained on. Constant
  columns (``s_j = 0``) and missing values never move.
* **Categorical** columns (everything else): the observed values, a missing
  value counting as one more value, with their frequencies. :meth:`FeatureSpace.flip`
  replaces a cell, with probability ``p``, by a *different* value drawn in
  proportion to the other values' frequencies.

Distances reported by the query signals are measured on the values actually
sent to the target (after clipping and rounding): ``‖(x' − x) / s‖₂`` over the
numeric columns that can move.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from privaudit.exceptions import CapabilityError

__all__ = ["FeatureSpace"]


def _is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def _numeric_values(features: pd.DataFrame, columns) -> np.ndarray:
    """(n, m) float64 values of ``columns``; missing values (NaN, pd.NA) become NaN."""
    if not columns:
        return np.empty((len(features), 0))
    return features[list(columns)].astype(np.float64).to_numpy(dtype=np.float64)


@dataclass(frozen=True)
class FeatureSpace:
    """Scales, ranges and category frequencies of a feature table (see the module docstring).

    Attributes
    ----------
    columns : tuple of str
        Every feature column, in table order.
    numeric, categorical : tuple of str
        The two kinds of column.
    scale : ndarray, shape (m,)
        Standard deviation of each numeric column (0: the column never moves).
    low, high : ndarray, shape (m,)
        Observed range of each numeric column.
    integer : ndarray of bool, shape (m,)
        Whether a numeric column holds whole numbers only (perturbed values are rounded).
    categories : tuple of ndarray
        Observed values of each categorical column (object arrays; NaN is a value).
    frequencies : tuple of ndarray
        Their relative frequencies (each sums to 1).
    dtypes : tuple
        The original dtype of every column in ``columns`` (restored by :meth:`frame`).
    """

    columns: tuple
    numeric: tuple
    categorical: tuple
    scale: np.ndarray
    low: np.ndarray
    high: np.ndarray
    integer: np.ndarray
    categories: tuple
    frequencies: tuple
    dtypes: tuple

    @classmethod
    def fit(cls, features: pd.DataFrame) -> "FeatureSpace":
        """Learn scales, ranges and category frequencies from ``features`` (one row per record)."""
        if features.shape[1] == 0:
            raise CapabilityError("label-only query attacks perturb the records' features, but the data has no feature columns")
        if len(features) == 0:
            raise CapabilityError("label-only query attacks need at least one record to perturb")
        numeric = tuple(c for c in features.columns if _is_numeric(features[c]))
        categorical = tuple(c for c in features.columns if c not in numeric)
        values = _numeric_values(features, numeric)
        scale, low, high = np.zeros(len(numeric)), np.zeros(len(numeric)), np.zeros(len(numeric))
        integer = np.zeros(len(numeric), dtype=bool)
        for j in range(len(numeric)):
            column = values[:, j][np.isfinite(values[:, j])]
            if column.size:
                scale[j], low[j], high[j] = column.std(), column.min(), column.max()
                integer[j] = bool(np.all(column == np.round(column)))
        categories, frequencies = [], []
        for column in categorical:
            counts = features[column].astype(object).value_counts(dropna=False, sort=False)
            categories.append(np.array(list(counts.index), dtype=object))
            frequencies.append(counts.to_numpy(dtype=np.float64) / counts.sum())
        return cls(tuple(features.columns), numeric, categorical, scale, low, high, integer, tuple(categories), tuple(frequencies),
                   tuple(features[c].dtype for c in features.columns))

    @property
    def movable(self) -> np.ndarray:
        """Bool mask over numeric columns that can move (positive scale)."""
        return self.scale > 0

    def encode(self, features: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """``(numeric values (n, m) float64, category codes (n, c) int)`` of records with this space's columns."""
        numeric = _numeric_values(features, self.numeric)
        codes = np.empty((len(features), len(self.categorical)), dtype=np.intp)
        for j, column in enumerate(self.categorical):
            index = pd.Index(self.categories[j], dtype=object)
            codes[:, j] = index.get_indexer(features[column].astype(object))
            if (codes[:, j] < 0).any():
                raise CapabilityError(f"column '{column}' holds values the feature space was not fitted on")
        return numeric, codes

    def move(self, numeric: np.ndarray, delta: np.ndarray) -> np.ndarray:
        """Raw numeric values after a step ``delta`` (standardised units, shape (N, m)): clipped, whole-number columns rounded."""
        moved = numeric + delta * self.scale
        moved = np.clip(moved, self.low, self.high)
        moved[:, self.integer] = np.round(moved[:, self.integer])
        return np.where(np.isfinite(numeric), moved, numeric)

    def distance(self, numeric: np.ndarray, base: np.ndarray) -> np.ndarray:
        """L2 distance in standardised units between rows of ``numeric`` and ``base`` (shape (N, m) each), over movable columns."""
        movable = self.movable
        step = (numeric[:, movable] - base[:, movable]) / self.scale[movable]
        return np.sqrt(np.sum(np.nan_to_num(step) ** 2, axis=1))

    def flip(self, codes: np.ndarray, p: float, rng: np.random.Generator) -> np.ndarray:
        """Codes with each cell replaced, with probability ``p``, by a different value drawn by frequency.

        For a cell holding value ``a`` the replacement is drawn from
        ``f_b / (1 − f_a)`` over ``b ≠ a`` (inverse CDF with ``a``'s interval cut
        out). A column with a single observed value never changes.
        """
        out = codes.copy()
        if p <= 0 or codes.shape[1] == 0:
            return out
        chosen = rng.random(codes.shape) < p
        for j, freq in enumerate(self.frequencies):
            rows = np.flatnonzero(chosen[:, j])
            if freq.size < 2 or rows.size == 0:
                continue
            cumulative = np.cumsum(freq)
            start = cumulative - freq
            current = codes[rows, j]
            u = rng.random(rows.size) * (1.0 - freq[current])
            u = u + freq[current] * (u >= start[current])
            new = np.minimum(np.searchsorted(cumulative, u, side="right"), freq.size - 1)
            out[rows, j] = np.where(new == current, (current + 1) % freq.size, new)  # guards rounding at the edge
        return out

    def frame(self, numeric: np.ndarray, codes: np.ndarray) -> pd.DataFrame:
        """A feature table with the original columns, order and dtypes, from numeric values and category codes."""
        columns = {}
        numeric_index = {c: j for j, c in enumerate(self.numeric)}
        categorical_index = {c: j for j, c in enumerate(self.categorical)}
        for column, dtype in zip(self.columns, self.dtypes):
            if column in numeric_index:
                columns[column] = pd.Series(numeric[:, numeric_index[column]]).astype(dtype)
            else:
                j = categorical_index[column]
                columns[column] = pd.Series(self.categories[j][codes[:, j]], dtype=dtype)
        return pd.DataFrame(columns)
