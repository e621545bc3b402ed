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

**When the report warns** (:func:`distribution_shift_warning`). With the
blind baseline's AUC interval [b₋, b₊] (bootstrap, at the audit's confidence
level) and the best attack's [a₋, a₊], the warning rests on the interval's
**lower end**, never on the point estimate:

1. b₋ > :data:`SHIFT_AUC` (0.55) — the texts alone separate members from
   non-members clearly and materially better than chance: the sets differ
   in distribution; or
2. b₋ > :data:`CHANCE_AUC` (0.5) — the baseline is significantly better
   than chance (a one-sided test at level (1 − confidence)/2) — and
   a₋ ≤ b₊: the best attack's interval reaches into the baseline's, so it
   does not clearly beat a model-free classifier.

Either way the attack figures do not show memorisation. On random splits
of one corpus (no shift) the warning fires at most as often as rule 2's
test rejects, nominally (1 − confidence)/2 = 2.5 % at 95 %; the seeded
simulation in ``tests/test_text_blind_claims.py`` measures it (it was 12 %
when rule 2 used the point AUC). Per attack, ``beats_blind_baseline`` is
a₋ > b₊ (its interval lies wholly above the baseline's).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from privaudit.exceptions import DataError
from privaudit.metrics import ScoreMetrics, evaluate_scores

__all__ = ["BlindBaseline", "blind_baseline_scores", "blind_baseline", "distribution_shift_warning", "SHIFT_AUC", "CHANCE_AUC"]

#: Rule 1: a blind-baseline AUC interval whose lower end exceeds this flags a material distribution shift.
SHIFT_AUC = 0.55
#: Rule 2: a lower end above chance (significant at (1 − confidence)/2) flags a shift the best attack does not clearly beat.
CHANCE_AUC = 0.5


@dataclass(frozen=True)
class BlindBaseline:
    """Out-of-fold scores of the model-free classifier and their metrics."""

    scores: np.ndarray
    metrics: ScoreMetrics
    n_folds: int
    description: str


def blind_baseline_scores(texts: Sequence[str], is_member, *, n_folds: int = 5, seed: int = 0) -> np.ndarray:
    """Out-of-fold P(member | text) from TF-IDF (word 1–2-grams, sublinear tf) + logistic regression, shape (n,).

    Each fold's vectoriser and classifier see only the other folds' texts,
    so no text is scored by a classifier that trained on it.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline

    texts = [str(t) for t in texts]
    is_member = np.asarray(is_member, dtype=bool)
    if is_member.shape != (len(texts),):
        raise DataError(f"blind baseline: {len(texts)} texts but membership of shape {is_member.shape}")
    smallest = int(min(is_member.sum(), (~is_member).sum()))
    if smallest < 2:
        raise DataError("blind baseline: needs at least 2 members and 2 non-members")
    folds = StratifiedKFold(n_splits=min(n_folds, smallest), shuffle=True, random_state=seed)
    pipeline = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1, lowercase=True),
        LogisticRegression(C=1.0, max_iter=2000),
    )
    return cross_val_predict(pipeline, texts, is_member.astype(int), cv=folds, method="predict_proba")[:, 1]


def blind_baseline(texts: Sequence[str], is_member, *, n_folds: int = 5, seed: int = 0, fprs=(0.1, 0.01), n_bootstrap: int = 1000,
                   confidence: float = 0.95) -> BlindBaseline:
    """Scores and metrics (AUC with bootstrap CI, TPR at ``fprs``) of the blind baseline on this split."""
    scores = blind_baseline_scores(texts, is_member, n_folds=n_folds, seed=seed)
    metrics = evaluate_scores(scores, is_member, fprs=fprs, n_bootstrap=n_bootstrap, confidence=confidence, seed=seed, delta=None)
    folds = min(n_folds, int(min(np.sum(is_member), np.sum(~np.asarray(is_member, bool)))))
    return BlindBaseline(scores, metrics, folds, f"TF-IDF word 1–2-grams + logistic regression, {folds}-fold cross-validated, no model queries")


def distribution_shift_warning(baseline: ScoreMetrics, attacks: dict[str, ScoreMetrics]) -> str | None:
    """The loud warning text when rule 1 or 2 of the module docstring holds, else None.

    Examples
    --------
    >>> from privaudit.metrics import ScoreMetrics
    >>> m = lambda auc, lo, hi: ScoreMetrics(auc, (lo, hi), 0.0, 0.5, 100, 100)
    >>> distribution_shift_warning(m(0.50, 0.42, 0.58), {"loss": m(0.80, 0.74, 0.86)}) is None
    True
    >>> "differ in distribution" in distribution_shift_warning(m(0.70, 0.63, 0.77), {"loss": m(0.80, 0.74, 0.86)})
    True
    >>> distribution_shift_warning(m(0.57, 0.49, 0.65), {"loss": m(0.52, 0.44, 0.60)}) is None   # point > 0.55, interval reaches chance
    True
    """
    low, high = baseline.auc_ci
    best_name, best = max(attacks.items(), key=lambda item: item[1].auc) if attacks else (None, None)
    shifted = low > SHIFT_AUC
    not_beaten = best is not None and low > CHANCE_AUC and best.auc_ci[0] <= high
    if not (shifted or not_beaten):
        return None
    text = (
        f"WARNING: member and non-member texts differ in distribution. A bag-of-words classifier that never queries the model "
        f"separates them with AUC {baseline.auc:.3f} [{low:.3f}, {high:.3f}]"
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
