"""Group labels for slicing audited records: by a column, numeric bands, class frequency, outlierness.

Each builder returns a :class:`pandas.Categorical` with one label per record
(missing values → ``"missing"``); :func:`labels_from_specs` builds them from the
config's ``groups:`` entries and :func:`group_label_array` turns any labels into
the string array and group order that :mod:`privaudit.metrics.groups` slices by.
Pure numpy/pandas (scikit-learn's ``NearestNeighbors`` imported lazily for
:func:`by_outlierness`).
"""

from __future__ import annotations

import math
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from privaudit.exceptions import DataError

__all__ = [
    "MAX_COLUMN_GROUPS",
    "MISSING_LABEL",
    "OUTLIER_BANDS",
    "group_label_array",
    "by_column",
    "age_bands",
    "by_class_frequency",
    "by_outlierness",
    "encode_features",
    "spec_name",
    "labels_from_specs",
]

#: Band names of :func:`by_outlierness` with three bands, nearest first.
OUTLIER_BANDS = ("typical", "unusual", "outlier")
#: A column without ``bands`` may have at most this many distinct values.
MAX_COLUMN_GROUPS = 50
MISSING_LABEL = "missing"


def group_label_array(groups, n: int) -> tuple[np.ndarray, list[str]]:
    """Group labels as strings (missing → "missing") and the group order (categorical order, else sorted)."""
    if isinstance(groups, pd.Categorical) or isinstance(getattr(groups, "dtype", None), pd.CategoricalDtype):
        cat = pd.Categorical(groups)
        names = np.asarray([str(c) for c in cat.categories], dtype=object)
        labels = np.where(cat.codes >= 0, names[np.maximum(cat.codes, 0)], MISSING_LABEL).astype(object)
        order = [str(c) for c in cat.categories] + [MISSING_LABEL]
    else:
        series = pd.Series(np.asarray(groups, dtype=object))
        labels = np.asarray(series.where(series.notna(), MISSING_LABEL).astype(str), dtype=object)
        order = sorted(set(labels.tolist()) - {MISSING_LABEL}) + [MISSING_LABEL]
    if labels.shape != (n,):
        raise DataError(f"group labels have shape {labels.shape}, but there are {n} scored records; give one label per audited record")
    present = set(labels.tolist())
    return labels, [g for g in order if g in present]


def by_column(values) -> pd.Categorical:
    """Group labels from a column's values, as strings (missing → ``"missing"``), sorted.

    >>> list(by_column(["F", "M", None]))
    ['F', 'M', 'missing']
    """
    series = pd.Series(np.asarray(values, dtype=object))
    labels = series.where(series.notna(), MISSING_LABEL).astype(str)
    categories = sorted(set(labels) - {MISSING_LABEL}) + ([MISSING_LABEL] if (labels == MISSING_LABEL).any() else [])
    return pd.Categorical(labels, categories=categories)


def _edge_label(low: float, high: float) -> str:
    if math.isinf(low):
        return f"<{high:g}"
    if math.isinf(high):
        return f"≥{low:g}"
    return f"{low:g}–{high:g}"


def age_bands(ages, edges: Sequence[float] = (0, 25, 35, 45, 55, 65, math.inf)) -> pd.Categorical:
    """Bands of a numeric column on half-open intervals ``[edges[i], edges[i+1])``.

    Labels read ``"25–35"`` for [25, 35), ``"<25"`` when the first edge is
    −inf and ``"≥65"`` when the last is +inf; categories keep the edge order.
    Missing values become ``"missing"``; values outside the edges are a
    :class:`DataError`.

    >>> list(age_bands([17, 25, 34.9, 70]))
    ['0–25', '25–35', '25–35', '≥65']
    """
    edges = [float(e) for e in edges]
    if len(edges) < 2 or any(b <= a for a, b in zip(edges, edges[1:])):
        raise DataError(f"band edges must be at least two strictly increasing numbers, got {edges}")
    values = pd.to_numeric(pd.Series(np.asarray(ages, dtype=object)), errors="coerce").to_numpy(dtype=np.float64)
    names = [_edge_label(a, b) for a, b in zip(edges, edges[1:])]
    finite = ~np.isnan(values)
    outside = finite & ((values < edges[0]) | (values >= edges[-1]))
    if outside.any():
        raise DataError(f"{int(outside.sum())} values lie outside the band edges [{edges[0]:g}, {edges[-1]:g}) (e.g. {values[outside][0]:g})")
    index = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(names) - 1)
    labels = np.where(finite, np.asarray(names, dtype=object)[index], MISSING_LABEL)
    categories = names + ([MISSING_LABEL] if (~finite).any() else [])
    return pd.Categorical(labels, categories=categories)


def by_class_frequency(labels, population_labels, rare_share: float = 0.1) -> pd.Categorical:
    """``"rare"`` for records whose class makes up less than ``rare_share`` of ``population_labels``, else ``"common"``.

    A class absent from the population counts as rare.

    >>> list(by_class_frequency([0, 1, 2], [0] * 95 + [1] * 5))
    ['common', 'rare', 'rare']
    """
    if not 0 < rare_share < 1:
        raise DataError(f"rare_share must lie in (0, 1), got {rare_share}")
    population = pd.Series(np.asarray(population_labels, dtype=object))
    if population.empty:
        raise DataError("class frequency needs population labels to count classes in")
    share = population.value_counts(normalize=True)
    shares = pd.Series(np.asarray(labels, dtype=object)).map(share).fillna(0.0).to_numpy(dtype=np.float64)
    return pd.Categorical(np.where(shares < rare_share, "rare", "common"), categories=["rare", "common"])


def encode_features(audited: pd.DataFrame, population: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Numeric matrices for :func:`by_outlierness` from mixed tables.

    Numeric columns are standardised by the population's mean and standard
    deviation (a constant column by 1); every other column is one-hot
    encoded over the categories of both tables. Missing numeric values take
    the population mean. Returns ``(audited_matrix, population_matrix)``.
    """
    if audited.shape[1] == 0:
        raise DataError("outlierness needs feature columns; this data has none")
    both = pd.concat([audited, population], ignore_index=True)
    parts = []
    for column in both.columns:
        values = both[column]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            values = values.astype(np.float64)
            reference = values.iloc[len(audited):]
            mean, std = float(reference.mean()), float(reference.std(ddof=0))
            parts.append(((values.fillna(mean) - mean) / (std if std > 0 else 1.0)).to_numpy()[:, None])
        else:
            parts.append(pd.get_dummies(values.astype(str), dtype=np.float64).to_numpy())
    matrix = np.hstack(parts)
    return matrix[: len(audited)], matrix[len(audited):]


def by_outlierness(features, population, *, k: int = 10, n_bands: int = 3, standardise: bool = True) -> pd.Categorical:
    """Bands of mean Euclidean distance to the ``k`` nearest population records.

    Parameters
    ----------
    features : array, shape (n, d)
        Numeric matrix of the audited records (encode categories first, e.g.
        with :func:`encode_features`).
    population : array, shape (m, d)
        The same columns for population records (none of them audited).
    k : int
        Neighbours averaged (at most ``m``).
    n_bands : int
        Bands by equal quantiles of the audited records' distances, nearest
        first: with 3 they are ``"typical"``, ``"unusual"``, ``"outlier"``
        (terciles); otherwise ``"distance band 1/n"`` ... ``"distance band n/n"``.
    standardise : bool
        Scale each column by the population's mean and standard deviation first.
    """
    from sklearn.neighbors import NearestNeighbors

    features = np.asarray(features, dtype=np.float64)
    population = np.asarray(population, dtype=np.float64)
    if features.ndim != 2 or population.ndim != 2 or features.shape[1] != population.shape[1]:
        raise DataError(f"features {features.shape} and population {population.shape} must be matrices with the same columns")
    if population.shape[0] == 0:
        raise DataError("outlierness needs population records to measure distances to")
    if k < 1 or n_bands < 2:
        raise DataError(f"outlierness needs k ≥ 1 and n_bands ≥ 2, got k={k}, n_bands={n_bands}")
    if standardise:
        mean, std = population.mean(axis=0), population.std(axis=0)
        std = np.where(std > 0, std, 1.0)
        features, population = (features - mean) / std, (population - mean) / std
    neighbours = NearestNeighbors(n_neighbors=min(k, population.shape[0])).fit(population)
    distance = neighbours.kneighbors(features)[0].mean(axis=1)
    cuts = np.quantile(distance, np.linspace(0, 1, n_bands + 1)[1:-1])
    index = np.searchsorted(cuts, distance, side="right")
    names = list(OUTLIER_BANDS) if n_bands == 3 else [f"distance band {i + 1}/{n_bands}" for i in range(n_bands)]
    return pd.Categorical(np.asarray(names, dtype=object)[index], categories=names)



def spec_name(spec: Mapping) -> str:
    """Display name of a config ``groups`` entry: its ``name``, else the column (``"<column> band"`` with bands), else ``by``."""
    if spec.get("name"):
        return str(spec["name"])
    if spec.get("column"):
        return f"{spec['column']} band" if spec.get("bands") else str(spec["column"])
    return str(spec["by"]).replace("_", " ")


def labels_from_specs(specs: Sequence[Mapping], data, *, read_table: Callable[[], pd.DataFrame] | None = None) -> dict[str, pd.Categorical]:
    """Group labels of the audited records for each config ``groups`` entry.

    Parameters
    ----------
    specs : sequence of mapping
        Validated entries: ``{"column": c}``, ``{"column": c, "bands": [...]}``,
        ``{"by": "class_frequency", "rare_share": s}``, ``{"by": "outlierness", "k": k, "n_bands": b}``
        or ``{"by": "label"}`` (unset keys may be absent or None).
    data : AuditData
    read_table : callable, optional
        Returns the whole data table (rows in record order); called once, and
        only for a column that is not among ``data.records.features`` (e.g. a
        sensitive attribute the model does not see).
    """
    audited = data.audited
    table: list[pd.DataFrame] = []
    out: dict[str, pd.Categorical] = {}
    for spec in specs:
        name = spec_name(spec)
        if name in out:
            raise DataError(f"two groups entries are both named '{name}'; give one a 'name'")
        column, by = spec.get("column"), spec.get("by")
        if column:
            if column in data.records.features.columns:
                values = data.records.features[column].to_numpy()[audited]
            else:
                if read_table is None:
                    raise DataError(f"group column '{column}' is not among the features, and no data table is available")
                if not table:
                    table.append(read_table())
                if column not in table[0].columns:
                    raise DataError(f"group column '{column}' not found; columns are: {', '.join(map(str, table[0].columns))}")
                values = table[0][column].to_numpy()[audited]
            if spec.get("bands"):
                out[name] = age_bands(values, (-math.inf, *spec["bands"], math.inf))
            else:
                labels = by_column(values)
                if len(labels.categories) > MAX_COLUMN_GROUPS:
                    raise DataError(f"group column '{column}' has {len(labels.categories)} distinct values; give 'bands' for a numeric column")
                out[name] = labels
        elif by == "label":
            classes = np.asarray(data.records.classes, dtype=object)
            out[name] = by_column(classes[data.records.labels[audited]].astype(str))
        elif by == "class_frequency":
            pool = data.population if data.population.size else audited
            out[name] = by_class_frequency(data.records.labels[audited], data.records.labels[pool], spec.get("rare_share") or 0.1)
        elif by == "outlierness":
            if data.population.size == 0:
                raise DataError("groups by outlierness need population records (distances are measured to them)")
            features = data.records.features
            matrix, population = encode_features(features.iloc[audited].reset_index(drop=True), features.iloc[data.population].reset_index(drop=True))
            out[name] = by_outlierness(matrix, population, k=spec.get("k") or 10, n_bands=spec.get("n_bands") or 3, standardise=False)
        else:
            raise DataError(f"unknown groups entry {dict(spec)}")
    return out
