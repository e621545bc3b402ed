"""The text audit's claim: does any of the K text attacks show membership leakage, corrected for choosing the best?

A report that picks the best of K attacks and judges it by its own 95 %
interval claims leakage far more often than 5 % of the time when there is
none. The claim here controls the family-wise error over the K attacks:

1. **Per attack**, the one-sided Mann–Whitney U test of H₀ "member and
   non-member scores are exchangeable" against "members score higher"
   (the test behind the AUC: U / (n_m · n_n) = AUC). scipy's
   ``mannwhitneyu(..., alternative="greater", method="auto")``: exact
   distribution for small samples without ties, else the normal
   approximation with tie correction.
2. **Holm's step-down correction** (Holm 1979) over the K p-values: sorted
   ascending p₍₁₎ ≤ … ≤ p₍K₎, adjusted p₍ᵢ₎ = max_{j ≤ i} min(1, (K − j + 1)·p₍ⱼ₎).
   An attack is significant when its adjusted p ≤ α = 1 − confidence. Holm
   controls the family-wise error rate at α under any dependence between
   the attacks (they share the texts and the model).
3. **Too few texts**: below :data:`MIN_MEMBERS` members or
   :data:`MIN_NONMEMBERS` non-members no claim is made either way (a
   bootstrap interval is meaningless there, and "no leakage detected" would
   have almost no power).

The claim says "leaks" when at least one attack is significant after Holm,
"none detected" otherwise. :func:`text_leakage_claim` is a pure function of
the attacks' scores, so it can be swapped for a shared verdict later.
Validated in ``tests/test_text_verdict.py``: under the null (independent
and correlated attacks) the false-claim rate is ≤ α + 2 Monte-Carlo SE.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Sequence

import numpy as np
from scipy import stats

from privaudit.exceptions import DataError

__all__ = ["MIN_MEMBERS", "MIN_NONMEMBERS", "TextClaim", "mann_whitney_p_value", "holm_adjusted", "text_leakage_claim"]

#: Fewest members and non-members for which the text report makes a claim (leakage or its absence).
MIN_MEMBERS = 30
MIN_NONMEMBERS = 30

METHOD = "one-sided Mann–Whitney U test per attack, Holm-corrected over the attacks run (family-wise error ≤ α)"


@dataclass(frozen=True)
class TextClaim:
    """What the text report may claim, and why.

    ``status`` is ``"leaks"``, ``"none_detected"`` or ``"too_few"``;
    ``p_values`` and ``adjusted_p_values`` map attack → one-sided p-value
    (raw and Holm-adjusted); ``significant`` lists the attacks whose adjusted
    p ≤ ``alpha``.
    """

    status: str
    sentence: str
    method: str
    n_attacks: int
    alpha: float
    n_members: int
    n_nonmembers: int
    p_values: dict = field(default_factory=dict)
    adjusted_p_values: dict = field(default_factory=dict)
    significant: tuple = ()

    def to_dict(self) -> dict:
        d = asdict(self)
        d["significant"] = list(self.significant)
        return d


def mann_whitney_p_value(scores, is_member) -> float:
    """One-sided p-value of "members score higher" (Mann–Whitney U; exact when small and tie-free).

    >>> round(mann_whitney_p_value([3.0, 4.0, 1.0, 2.0], [True, True, False, False]), 4)   # 1 / C(4, 2)
    0.1667
    """
    scores = np.asarray(scores, dtype=np.float64)
    is_member = np.asarray(is_member, dtype=bool)
    if scores.shape != is_member.shape:
        raise DataError(f"scores {scores.shape} and membership {is_member.shape} differ in shape")
    if not np.isfinite(scores).all():
        raise DataError("attack scores must be finite for the Mann–Whitney test")
    return float(stats.mannwhitneyu(scores[is_member], scores[~is_member], alternative="greater", method="auto").pvalue)


def holm_adjusted(p_values) -> np.ndarray:
    """Holm step-down adjusted p-values, same order as given.

    >>> holm_adjusted([0.01, 0.04, 0.03]).tolist()
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(p_values, dtype=np.float64)
    k = p.size
    order = np.argsort(p, kind="stable")
    stepped = np.minimum(1.0, np.maximum.accumulate((k - np.arange(k)) * p[order]))
    adjusted = np.empty(k)
    adjusted[order] = stepped
    return adjusted


def text_leakage_claim(scores_by_attack: dict[str, np.ndarray], is_member, *, confidence: float = 0.95,
                       aucs: dict[str, Sequence[float]] | None = None, distribution_shift: bool = False) -> TextClaim:
    """The corrected claim over the attacks (module docstring).

    Parameters
    ----------
    scores_by_attack : dict of attack name → array, shape (n,)
        Membership scores, higher = member.
    is_member : bool array, shape (n,)
    confidence : float
        α = 1 − confidence is the family-wise error rate.
    aucs : dict of attack name → (auc, low, high), optional
        Only for the sentence (the strongest significant attack's AUC and interval).
    distribution_shift : bool
        The blind baseline warned (:func:`privaudit.text.blind.distribution_shift_warning`):
        a leakage claim then says it may reflect the difference between the sets, not memorisation.
    """
    is_member = np.asarray(is_member, dtype=bool)
    n_m, n_n = int(is_member.sum()), int((~is_member).sum())
    alpha = 1.0 - confidence
    names = list(scores_by_attack)
    if n_m < MIN_MEMBERS or n_n < MIN_NONMEMBERS:
        sentence = (f"Too few texts to conclude: {n_m} members, {n_n} non-members; at least {MIN_MEMBERS} members and "
                    f"{MIN_NONMEMBERS} non-members are needed for a claim of leakage or of its absence. Audit a larger sample.")
        return TextClaim("too_few", sentence, METHOD, len(names), alpha, n_m, n_n)
    if not names:
        raise DataError("text_leakage_claim needs at least one attack")
    raw = np.array([mann_whitney_p_value(scores_by_attack[name], is_member) for name in names])
    adjusted = holm_adjusted(raw)
    significant = tuple(name for name, p in zip(names, adjusted) if p <= alpha)
    p_values = {name: float(p) for name, p in zip(names, raw)}
    adjusted_p = {name: float(p) for name, p in zip(names, adjusted)}
    corrected = f"Holm-corrected over {len(names)} attack{'s' if len(names) != 1 else ''}, family-wise error ≤ {alpha:g}"
    if significant:
        strongest = max(significant, key=lambda name: (aucs or {}).get(name, (0.0,))[0]) if aucs else min(significant, key=adjusted_p.get)
        figure = ""
        if aucs and strongest in aucs:
            auc, low, high = aucs[strongest]
            figure = f", AUC {auc:.3f} [{low:.3f}–{high:.3f}]"
        sentence = (f"Evidence of membership leakage: {len(significant)} of {len(names)} attacks tell members from non-members better "
                    f"than chance ({corrected}); strongest {strongest}{figure}, adjusted p = {adjusted_p[strongest]:.2g}.")
        if distribution_shift:
            sentence += (" But the texts alone also tell the sets apart (see the distribution-shift warning): this may reflect the "
                         "difference between the sets, not memorisation by the model.")
        return TextClaim("leaks", sentence, METHOD, len(names), alpha, n_m, n_n, p_values, adjusted_p, significant)
    sentence = (f"No membership leakage detected: none of the {len(names)} attacks beats chance ({corrected}). This is not proof "
                "of privacy: stronger attacks (a reference model), more texts, or canaries can still find leakage.")
    return TextClaim("none_detected", sentence, METHOD, len(names), alpha, n_m, n_n, p_values, adjusted_p, significant)
