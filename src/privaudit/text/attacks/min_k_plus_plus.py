"""Min-K %++ (Zhang et al. 2025, "Min-K%++: Improved Baseline for Detecting Pre-Training Data from LLMs", ICLR)."""

from __future__ import annotations

from privaudit.text.attacks.base import TEXT_ATTACKS, TextAttack, TextQuery
from privaudit.text.signals import min_k_plus_plus

TARGET_WITH_VOCAB = TextQuery(vocab_stats=True)


@TEXT_ATTACKS.register("min_k_plus_plus")
class MinKPlusPlusAttack(TextAttack):
    """Score = mean of the ⌈k·T⌉ lowest z_t = (log p(x_t | x_<t) − μ_t) / σ_t.

    μ_t and σ_t are the mean and standard deviation of log p(z | x_<t) under
    the model's own next-token distribution, so the query asks the target
    for them (``vocab_stats``).

    Parameters
    ----------
    k : float in (0, 1]

    Examples
    --------
    >>> from privaudit.text.token_scores import TokenLogProbs
    >>> answers = {"target:identity": TokenLogProbs.from_arrays(
    ...     [[-1.0, -1.0], [-1.0, -1.0]], vocab_mean=[[-2.0, -2.0], [-1.0, -1.0]], vocab_std=[[0.5, 0.5], [0.5, 0.5]])}
    >>> MinKPlusPlusAttack(k=0.5).score(["a b", "c d"], answers).tolist()
    [2.0, 0.0]
    """

    name = "min_k_plus_plus"

    def __init__(self, *, k: float = 0.2) -> None:
        self.k = k

    def queries(self):
        return (TARGET_WITH_VOCAB,)

    def _score(self, texts, answers):
        return min_k_plus_plus(answers[TARGET_WITH_VOCAB.key], self.k)
