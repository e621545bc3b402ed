"""Blind baseline: can members be told from non-members without asking the model at all?

A membership audit on text compares the model's answers on member and
non-member texts. If the two sets differ in distribution — other topics,
other dates, other sources — an attack can "succeed" by noticing the
difference in the texts, not memorisation by the model (Duan et al. 2024;
Das, Zhang & Tramèr 2024, "Blind Baselines Beat Membership Inference Attacks
for Foundation Models"). The blind baseline measures that: a bag-of-words
classifier (TF-IDF of word 1–2-grams, logistic regression) trained and
evaluated by stratified k-fold cross-validation on the *same* member /
non-member split, never querying the model. Each text's score is the
out-of-fold probability of "member" (higher = member, like every attack).

**When the report warns** (:func:`distribution_shift_warning`). Only when
the blind baseline is *significantly* better than chance, by a test that is
valid for cross-validated scores:

* within each of the k folds the held-out texts are scored by a classifier
  fitted on the other folds only, so under "no shift" (membership
  independent of the texts) their labels are exchangeable given everything
  outside the fold, and the fold's one-sided Mann–Whitney p-value p_j is
  exact (:func:`privaudit.text.verdict.mann_whitney_p_value`);
* the k p-values are dependent (each classifier saw the other folds'
  labels), so they are merged by twice their mean, p = min(1, 2·mean p_j),
  which is a valid p-value under any dependence (Rüschendorf 1982;
  Vovk & Wang 2020, "Combining p-values via averaging").

The shift is significant when p ≤ α = 1 − confidence. Then the warning fires if

1. b₋ > :data:`SHIFT_AUC` (0.55), with [b₋, b₊] the baseline's bootstrap AUC
   interval — the texts alone separate the sets materially; or
2. a₋ ≤ b₊, with [a₋, a₊] the best attack's interval — the best attack
   does not clearly beat a model-free classifier.

The false-warning rate on random splits of one corpus is therefore at most
α (5 % at 95 % confidence). Why not simply the interval's lower end: the
bootstrap treats the out-of-fold scores as independent, which they are not;
measured on 200 random splits of 400 fortune quotes, "b₋ > 0.5" fired 9 %
of the time (nominal 2.5 %) and the former rule (point AUC > 0.55) 11.5 %
(``tests/test_text_blind_claims.py``). Per attack, ``beats_blind_baseline``
is a₋ > b₊ (its interval lies wholly above the baseline's).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from privaudit.exceptions import DataError
from privaudit.metrics import ScoreMetrics, evaluate_scores

__all__ = ["BlindBaseline", "blind_baseline_folds", "blind_baseline_scores", "blind_baseline", "shift_p_value",
           "distribution_shift_warning", "SHIFT_AUC"]

#: Rule 1: with a significant shift, a bootstrap interval whose lower end exceeds this flags a material one.
SHIFT_AUC = 0.55


@dataclass(frozen=True)
class BlindBaseline:
    """Out-of-fold scores of the model-free classifier, their metrics, and the shift test's p-value (module docstring)."""

    scores: np.ndarray
    metrics: ScoreMetrics
    n_folds: int
    description: str
    p_value: float = 1.0
    fold_p_values: tuple = ()


def blind_baseline_folds(texts: Sequence[str], is_member, *, n_folds: int = 5, seed: int = 0, groups=None) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold P(member | text) from TF-IDF (word 1–2-grams, sublinear tf) + logistic regression, and each text's fold.

    Each fold's vectoriser and classifier see only the other folds' texts,
    so no text is scored by a classifier that trained on it (the same as
    scikit-learn's ``cross_val_predict`` with stratified shuffled folds).
    ``groups`` (shape (n,), e.g. authors, when membership was decided per
    person): every group's texts fall in one fold (``StratifiedGroupKFold``),
    so the classifier cannot tell a person's texts apart by having learnt that
    person's other texts; the folds are then at most the number of groups
    holding members (or non-members).
    Returns scores, shape (n,), and fold index, shape (n,), int.
    """
    from sklearn.base import clone
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold
    from sklearn.pipeline import make_pipeline

    texts = [str(t) for t in texts]
    is_member = np.asarray(is_member, dtype=bool)
    if is_member.shape != (len(texts),):
        raise DataError(f"blind baseline: {len(texts)} texts but membership of shape {is_member.shape}")
    smallest = int(min(is_member.sum(), (~is_member).sum()))
    if smallest < 2:
        raise DataError("blind baseline: needs at least 2 members and 2 non-members")
    if groups is not None:
        groups = np.asarray(groups).astype(str)
        smallest = min(smallest, np.unique(groups[is_member]).size, np.unique(groups[~is_member]).size)
        if smallest < 2:
            raise DataError("blind baseline: with texts grouped by person, needs members and non-members of at least 2 persons each")
    splitter = StratifiedKFold if groups is None else StratifiedGroupKFold
    folds = splitter(n_splits=min(n_folds, smallest), shuffle=True, random_state=seed)
    pipeline = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1, lowercase=True),
        LogisticRegression(C=1.0, max_iter=2000),
    )
    labels = is_member.astype(int)
    scores, fold_of = np.empty(len(texts)), np.empty(len(texts), dtype=np.int64)
    for k, (train, test) in enumerate(folds.split(np.zeros(len(texts)), labels, groups)):
        fitted = clone(pipeline).fit([texts[i] for i in train], labels[train])
        scores[test] = fitted.predict_proba([texts[i] for i in test])[:, 1]
        fold_of[test] = k
    return scores, fold_of


def blind_baseline_scores(texts: Sequence[str], is_member, *, n_folds: int = 5, seed: int = 0) -> np.ndarray:
    """Out-of-fold P(member | text), shape (n,) (:func:`blind_baseline_folds` without the folds)."""
    return blind_baseline_folds(texts, is_member, n_folds=n_folds, seed=seed)[0]


def shift_p_value(scores, is_member, fold_of, groups=None) -> tuple[float, tuple[float, ...]]:
    """p-value of "the texts alone tell members apart": min(1, 2·mean of the per-fold one-sided Mann–Whitney p-values).

    Returns the merged p-value and the per-fold ones (module docstring).
    With ``groups`` (membership decided per person), each fold's test compares
    persons, not texts: a person's mean out-of-fold score is one observation
    (texts of one person on both sides count as two), since the labels are
    exchangeable between persons, not between one person's texts.

    >>> p, folds = shift_p_value([4, 5, 6, 1, 2, 3, 0.4, 0.5, 0.6, 0.1, 0.2, 0.3], [1, 1, 1, 0, 0, 0] * 2, [0] * 6 + [1] * 6)
    >>> [round(f, 3) for f in folds], round(p, 3)
    ([0.05, 0.05], 0.1)
    """
    from privaudit.text.verdict import mann_whitney_p_value

    scores = np.asarray(scores, dtype=np.float64)
    is_member = np.asarray(is_member, dtype=bool)
    fold_of = np.asarray(fold_of)
    fold_p = []
    for k in np.unique(fold_of):
        inside = fold_of == k
        fold_scores, fold_labels = scores[inside], is_member[inside]
        if groups is not None:
            units = np.char.add(np.where(fold_labels, "1\x00", "0\x00"), np.asarray(groups)[inside].astype(str))
            unique, unit_of = np.unique(units, return_inverse=True)
            fold_scores = np.bincount(unit_of, weights=fold_scores) / np.bincount(unit_of)
            fold_labels = np.char.startswith(unique, "1")
        if fold_labels.any() and (~fold_labels).any():
            fold_p.append(mann_whitney_p_value(fold_scores, fold_labels))
    if not fold_p:
        return 1.0, ()
    return float(min(1.0, 2.0 * float(np.mean(fold_p)))), tuple(float(p) for p in fold_p)


def blind_baseline(texts: Sequence[str], is_member, *, n_folds: int = 5, seed: int = 0, fprs=(0.1, 0.01), n_bootstrap: int = 1000,
                   confidence: float = 0.95, groups=None) -> BlindBaseline:
    """Scores and metrics (AUC with bootstrap CI, TPR at ``fprs``) of the blind baseline on this split, and its shift p-value.

    ``groups``: as in :func:`blind_baseline_folds` (folds by person).
    """
    is_member = np.asarray(is_member, dtype=bool)
    scores, fold_of = blind_baseline_folds(texts, is_member, n_folds=n_folds, seed=seed, groups=groups)
    metrics = evaluate_scores(scores, is_member, fprs=fprs, n_bootstrap=n_bootstrap, confidence=confidence, seed=seed, delta=None)
    p_value, fold_p = shift_p_value(scores, is_member, fold_of, groups)
    folds = int(np.unique(fold_of).size)
    by = "" if groups is None else " with each person's texts in one fold"
    return BlindBaseline(scores, metrics, folds, f"TF-IDF word 1–2-grams + logistic regression, {folds}-fold cross-validated{by}, no model queries",
                         p_value, fold_p)


def distribution_shift_warning(baseline: ScoreMetrics, attacks: dict[str, ScoreMetrics], *, p_value: float,
                               alpha: float = 0.05) -> str | None:
    """The loud warning text when the shift is significant (``p_value`` ≤ ``alpha``) and rule 1 or 2 holds, else None.

    Examples
    --------
    >>> from privaudit.metrics import ScoreMetrics
    >>> m = lambda auc, lo, hi: ScoreMetrics(auc, (lo, hi), 0.0, 0.5, 100, 100)
    >>> distribution_shift_warning(m(0.50, 0.42, 0.58), {"loss": m(0.80, 0.74, 0.86)}, p_value=0.5) is None
    True
    >>> "differ in distribution" in distribution_shift_warning(m(0.70, 0.63, 0.77), {"loss": m(0.80, 0.74, 0.86)}, p_value=1e-4)
    True
    >>> distribution_shift_warning(m(0.60, 0.53, 0.67), {"loss": m(0.52, 0.44, 0.60)}, p_value=0.09) is None   # not significant
    True
    """
    low, high = baseline.auc_ci
    best_name, best = max(attacks.items(), key=lambda item: item[1].auc) if attacks else (None, None)
    significant = p_value <= alpha
    shifted = significant and low > SHIFT_AUC
    not_beaten = significant and best is not None and best.auc_ci[0] <= high
    if not (shifted or not_beaten):
        return None
    text = (
        f"WARNING: member and non-member texts differ in distribution. A bag-of-words classifier that never queries the model "
        f"separates them with AUC {baseline.auc:.3f} [{low:.3f}, {high:.3f}] (better than chance: p = {p_value:.2g}, one-sided, "
        f"per-fold Mann–Whitney tests merged)"
    )
    if best is not None:
        text += f"; the best attack ({best_name}) reaches AUC {best.auc:.3f} [{best.auc_ci[0]:.3f}, {best.auc_ci[1]:.3f}]"
    beaten = [name for name, m in attacks.items() if m.auc_ci[0] > high]
    text += (
        ". The attack figures therefore do not show memorisation by the model: they may only detect the difference between the sets. "
        "Audit with non-members drawn from the same source and period as the members (ideally a random split made before training)."
    )
    if beaten and shifted:
        text += f" Only {', '.join(beaten)} clearly beat{'s' if len(beaten) == 1 else ''} the blind baseline."
    return text
