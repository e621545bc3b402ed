"""How alike are fabricated and real records? (:func:`fidelity_report`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from privaudit.exceptions import DataError
from privaudit.fabricate._columns import correlation_of_scores, is_numeric_column, mid_rank_normal_scores

__all__ = ["fidelity_report"]



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
    if auc < 0.45:
        return (f"they sit very close to real records (cross-validated AUC {auc:.2f}, below 0.5: profiles fall next to "
                f"the records they were drawn from, so a classifier trained on one fold misjudges the other)")
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

    numeric = [c for c in columns if is_numeric_column(real[c]) and is_numeric_column(synthetic[c])]
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
        real_corr = correlation_of_scores(np.column_stack([mid_rank_normal_scores(col) for col in real_x.T]))
        synthetic_corr = correlation_of_scores(np.column_stack([mid_rank_normal_scores(col) for col in synthetic_x.T]))
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
