"""Group vulnerability: membership metrics per slice of the audited records.

Pure numpy/pandas (scikit-learn's ``NearestNeighbors`` is imported lazily for
:func:`by_outlierness`). Every slice is evaluated by
:func:`privaudit.metrics.evaluate_scores` on its own records, so a group's AUC,
TPR at each FPR, intervals and ``supported`` flags mean exactly what they mean
for the whole audit.

* :func:`slice_metrics` — one :class:`GroupMetrics` per group label;
* :func:`disparity` — the most exposed group (highest AUC) against the overall figure;
* label builders — :func:`by_column`, :func:`age_bands`, :func:`by_class_frequency`,
  :func:`by_outlierness` (with :func:`encode_features` for mixed tables);
* :func:`most_exposed` — the records an attacker would flag first (ids only, no features);
* :func:`analyse_groups` — all of the above for each target's best attack (used by ``audit``);
* :func:`labels_from_specs` — group labels from the config's ``groups:`` entries.

Examples
--------
>>> rng = np.random.default_rng(0)
>>> is_member = np.r_[np.ones(200, bool), np.zeros(200, bool)]
>>> groups = np.tile(["a", "b"], 200)
>>> scores = rng.normal(size=400) + is_member * (groups == "b")
>>> found = slice_metrics(scores, is_member, groups, n_bootstrap=50)
>>> [g.name for g in found], found[1].auc > found[0].auc
(['a', 'b'], True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from privaudit.exceptions import DataError
from privaudit.metrics import DEFAULT_FPRS, ScoreMetrics, evaluate_scores

__all__ = [
    "MIN_GROUP_MEMBERS",
    "MIN_GROUP_NONMEMBERS",
    "N_EXPOSED",
    "OUTLIER_BANDS",
    "GroupMetrics",
    "Disparity",
    "SlicingResult",
    "TargetGroups",
    "slice_metrics",
    "disparity",
    "by_column",
    "age_bands",
    "by_class_frequency",
    "by_outlierness",
    "encode_features",
    "most_exposed",
    "analyse_groups",
    "labels_from_specs",
]

#: A group with fewer members or non-members than these is flagged ``too_small`` and gets no figures.
MIN_GROUP_MEMBERS = 20
MIN_GROUP_NONMEMBERS = 20
#: Records listed by :func:`most_exposed` by default.
N_EXPOSED = 20
#: Band names of :func:`by_outlierness` with three bands, nearest first.
OUTLIER_BANDS = ("typical", "unusual", "outlier")
#: A column without ``bands`` may have at most this many distinct values.
MAX_COLUMN_GROUPS = 50
MISSING_LABEL = "missing"


@dataclass(frozen=True)
class GroupMetrics:
    """Membership metrics of one group of audited records.

    ``metrics`` is :func:`~privaudit.metrics.evaluate_scores` on the group's
    records alone, or ``None`` when the group is ``too_small`` (``reason``
    says why).
    """

    name: str
    n_members: int
    n_nonmembers: int
    too_small: bool
    reason: str | None = None
    metrics: ScoreMetrics | None = None

    @property
    def auc(self) -> float | None:
        return None if self.metrics is None else self.metrics.auc

    @property
    def auc_ci(self) -> tuple[float, float] | None:
        return None if self.metrics is None else self.metrics.auc_ci

    def to_dict(self) -> dict:
        """JSON-ready: ``group``, sizes, ``too_small``, ``reason``, then the ``ScoreMetrics.to_dict`` figures or nulls."""
        d = {"group": self.name, "n_members": self.n_members, "n_nonmembers": self.n_nonmembers,
             "too_small": self.too_small, "reason": self.reason}
        if self.metrics is None:
            d.update(auc=None, auc_ci=None, advantage=None, balanced_accuracy=None, tpr_at_fpr={})
        else:
            m = self.metrics.to_dict()
            d.update(auc=m["auc"], auc_ci=m["auc_ci"], advantage=m["advantage"],
                     balanced_accuracy=m["balanced_accuracy"], tpr_at_fpr=m["tpr_at_fpr"])
        return d


@dataclass(frozen=True)
class Disparity:
    """The most exposed group (highest AUC among groups not too small) against the whole audit.

    ``ci_above_overall`` is True when the group's whole AUC interval lies
    above the overall AUC point estimate. The group is picked as the worst of
    ``n_groups_compared``, so its interval is slightly optimistic.
    """

    worst_group: str
    auc: float
    auc_ci: tuple[float, float]
    overall_auc: float
    overall_auc_ci: tuple[float, float]
    difference: float
    ci_above_overall: bool
    n_groups_compared: int

    def to_dict(self) -> dict:
        return {"worst_group": self.worst_group, "auc": self.auc, "auc_ci": list(self.auc_ci),
                "overall_auc": self.overall_auc, "overall_auc_ci": list(self.overall_auc_ci),
                "difference": self.difference, "ci_above_overall": self.ci_above_overall,
                "n_groups_compared": self.n_groups_compared}


@dataclass(frozen=True)
class SlicingResult:
    """One way of slicing the audited records (e.g. by ``sex``): its groups and disparity."""

    name: str
    groups: list[GroupMetrics]
    disparity: Disparity | None


@dataclass(frozen=True)
class TargetGroups:
    """Group analysis of one target's best attack.

    ``labels`` maps each slicing name to the group label of every audited
    record (aligned with ``AuditResult.record_ids``); ``most_exposed`` holds
    the :func:`most_exposed` rows (ids, rank, membership, score).
    """

    target: str
    attack: str
    slicings: dict[str, SlicingResult]
    most_exposed: list[dict]
    labels: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    #: positions of the ``most_exposed`` records among the audited records, in rank order
    exposed_index: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.intp), repr=False)

    def to_dict(self) -> dict:
        return {
            "attack": self.attack,
            "slicings": [
                {"name": s.name, "groups": [g.to_dict() for g in s.groups],
                 "disparity": None if s.disparity is None else s.disparity.to_dict()}
                for s in self.slicings.values()
            ],
            "most_exposed": [dict(r) for r in self.most_exposed],
        }


# --- metrics per slice ------------------------------------------------------------------------------------


def _as_labels(groups, n: int) -> tuple[np.ndarray, list[str]]:
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


def slice_metrics(
    scores,
    is_member,
    groups,
    *,
    fprs: Sequence[float] = DEFAULT_FPRS,
    confidence: float = 0.95,
    n_bootstrap: int = 1000,
    seed: int = 0,
    min_members: int = MIN_GROUP_MEMBERS,
    min_nonmembers: int = MIN_GROUP_NONMEMBERS,
) -> list[GroupMetrics]:
    """Membership metrics of each group of records.

    Parameters
    ----------
    scores : array, shape (n,)
        Membership scores, higher = more likely a member.
    is_member : bool array, shape (n,)
    groups : array or Categorical, shape (n,)
        Group label of each record; missing values form the group ``"missing"``.
        Groups come in categorical order, otherwise sorted.
    fprs, confidence, n_bootstrap, seed
        As in :func:`~privaudit.metrics.evaluate_scores` (each group is
        bootstrapped with the same ``seed``).
    min_members, min_nonmembers : int
        Groups with fewer get ``too_small=True``, a ``reason`` and no figures.

    Returns
    -------
    list of GroupMetrics
        One per group present in ``groups``.
    """
    scores = np.asarray(scores, dtype=np.float64)
    is_member = np.asarray(is_member, dtype=bool)
    if scores.shape != is_member.shape or scores.ndim != 1:
        raise DataError(f"scores {scores.shape} and membership {is_member.shape} must be 1-D and of equal length")
    labels, order = _as_labels(groups, scores.size)
    out = []
    for name in order:
        mask = labels == name
        n_m = int(is_member[mask].sum())
        n_n = int(mask.sum()) - n_m
        short = []
        if n_m < max(min_members, 1):
            short.append(f"{n_m} member{'s' if n_m != 1 else ''} (needs ≥ {max(min_members, 1)})")
        if n_n < max(min_nonmembers, 1):
            short.append(f"{n_n} non-member{'s' if n_n != 1 else ''} (needs ≥ {max(min_nonmembers, 1)})")
        if short:
            out.append(GroupMetrics(name, n_m, n_n, True, "only " + " and ".join(short)))
            continue
        metrics = evaluate_scores(scores[mask], is_member[mask], fprs=fprs, confidence=confidence, n_bootstrap=n_bootstrap, seed=seed)
        out.append(GroupMetrics(name, n_m, n_n, False, None, metrics))
    return out


def disparity(groups: Sequence[GroupMetrics], overall: ScoreMetrics) -> Disparity | None:
    """The group with the highest AUC (among groups not too small) against the overall metrics.

    Returns ``None`` when no group is large enough. Ties go to the first group.
    """
    usable = [g for g in groups if not g.too_small and g.metrics is not None]
    if not usable:
        return None
    worst = max(usable, key=lambda g: g.metrics.auc)
    m = worst.metrics
    return Disparity(
        worst_group=worst.name, auc=m.auc, auc_ci=tuple(m.auc_ci), overall_auc=overall.auc, overall_auc_ci=tuple(overall.auc_ci),
        difference=m.auc - overall.auc, ci_above_overall=bool(m.auc_ci[0] > overall.auc), n_groups_compared=len(usable),
    )


# --- group labels -----------------------------------------------------------------------------------------


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


def most_exposed(scores, record_ids, is_member, n: int = N_EXPOSED) -> list[dict]:
    """The ``n`` records with the highest scores: ``rank`` (1 = highest), ``record_id``, ``member``, ``score``.

    No features are included. Ties keep record order.

    >>> [r["record_id"] for r in most_exposed([0.1, 0.9, 0.5], ["a", "b", "c"], [0, 1, 0], n=2)]
    ['b', 'c']
    """
    scores = np.asarray(scores, dtype=np.float64)
    order = np.argsort(-scores, kind="stable")[:n]
    ids = np.asarray(record_ids)
    member = np.asarray(is_member, dtype=bool)
    return [{"rank": rank + 1, "record_id": str(ids[i]), "member": bool(member[i]), "score": float(scores[i])} for rank, i in enumerate(order)]


# --- wiring -----------------------------------------------------------------------------------------------


def analyse_groups(result, groups: Mapping[str, object], *, n_bootstrap: int, n_exposed: int = N_EXPOSED) -> dict[str, TargetGroups]:
    """Slice each target's best attack (``result.best(target)``) by every entry of ``groups``.

    Parameters
    ----------
    result : AuditResult
        Uses ``results``, ``targets``, ``is_member``, ``record_ids``,
        ``fprs``, ``confidence`` and ``seed``.
    groups : mapping of slicing name → labels, shape (n_audited,)
        Aligned with ``result.record_ids`` (members then non-members).
    n_bootstrap : int

    Returns
    -------
    dict
        Target name → :class:`TargetGroups`.
    """
    n = len(result.record_ids)
    labels = {}
    for name, values in groups.items():
        if len(values) != n:
            raise DataError(f"group slicing '{name}' has {len(values)} labels, but the audit has {n} audited records (members then non-members)")
        labels[str(name)] = values
    out = {}
    for target in result.targets:
        if not any(r.target == target.name for r in result.results):
            continue
        best = result.best(target.name)
        slicings = {}
        for name, values in labels.items():
            found = slice_metrics(best.scores, result.is_member, values, fprs=result.fprs, confidence=result.confidence,
                                  n_bootstrap=n_bootstrap, seed=result.seed)
            slicings[name] = SlicingResult(name, found, disparity(found, best.metrics))
        exposed = most_exposed(best.scores, result.record_ids, result.is_member, n_exposed)
        exposed_index = np.argsort(-np.asarray(best.scores, dtype=np.float64), kind="stable")[:n_exposed]  # as in most_exposed
        out[target.name] = TargetGroups(target.name, best.attack, slicings, exposed,
                                        {k: _as_labels(v, n)[0] for k, v in labels.items()}, exposed_index)
    return out


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
