"""Class-dependent threshold attack (Song & Mittal 2021, §3.2).

Song & Mittal pick one threshold per class, because a record of a hard class
has higher loss than one of an easy class whether it was trained on or not.
Here each threshold is expressed as a score: for a record of class c with
oriented signal s (higher = member), the score is the mid-rank empirical CDF
of s among population records of class c,

    score = ( #{pop_c < s} + ½ #{pop_c = s} ) / n_c ,

so flagging ``score > 1 − α`` applies per-class thresholds that each flag a
fraction α of that class's non-members — exactly the class-wise rule — and one
global sweep over the score traces its ROC. Classes absent from the population
fall back to the pooled population (stated in ``fallback_classes_``).
"""

from __future__ import annotations

import numpy as np

from privaudit.attacks.base import ATTACKS, SignalAttack
from privaudit.exceptions import NotFittedError


def _mid_cdf(sorted_reference: np.ndarray, values: np.ndarray) -> np.ndarray:
    below = np.searchsorted(sorted_reference, values, side="left")
    upto = np.searchsorted(sorted_reference, values, side="right")
    return (below + 0.5 * (upto - below)) / sorted_reference.size


@ATTACKS.register("classwise_threshold")
class ClasswiseThresholdAttack(SignalAttack):
    """Per-class calibrated threshold attack; needs population records.

    Parameters
    ----------
    signal : str
        A registered signal name.

    Attributes
    ----------
    class_references_ : dict[int, ndarray]
        Sorted oriented population signals per class.
    pooled_reference_ : ndarray
    """

    name = "classwise_threshold"
    needs_population = True

    def _fit(self, signals, labels):
        oriented = self._oriented(signals, labels)
        self.pooled_reference_ = np.sort(oriented)
        self.class_references_ = {int(c): np.sort(oriented[labels == c]) for c in np.unique(labels)}

    def _score(self, signals, labels):
        if not hasattr(self, "class_references_"):
            raise NotFittedError(f"attack '{self.display_name}' is not fitted: call fit() on population records first")
        oriented = self._oriented(signals, labels)
        scores = np.empty_like(oriented)
        for c in np.unique(labels):
            rows = labels == c
            reference = self.class_references_.get(int(c), self.pooled_reference_)
            scores[rows] = _mid_cdf(reference, oriented[rows])
        self.fallback_classes_ = sorted(int(c) for c in np.unique(labels) if int(c) not in self.class_references_)
        return scores
