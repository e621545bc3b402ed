"""Min-K % Prob (Shi et al. 2024, "Detecting Pretraining Data from Large Language Models", ICLR)."""

from __future__ import annotations

from privaudit.text.attacks.base import TARGET_TEXTS, TEXT_ATTACKS, TextAttack
from privaudit.text.signals import min_k_percent


@TEXT_ATTACKS.register("min_k")
class MinKAttack(TextAttack):
    """Score = mean log p(x_t | x_<t) over the ⌈k·T⌉ least likely tokens of the text.

    Parameters
    ----------
    k : float in (0, 1]
        Fraction of tokens kept (20 % by default, as in the paper).

    Examples
    --------
    >>> from privaudit.text.token_scores import TokenLogProbs
    >>> answers = {"target:identity": TokenLogProbs.from_arrays([[-0.1, -0.1, -0.1, -0.1, -5.0], [-0.5] * 5])}
    >>> MinKAttack(k=0.2).score(["a b c d e", "f g h i j"], answers).tolist()
    [-5.0, -0.5]
    """

    name = "min_k"

    def __init__(self, *, k: float = 0.2) -> None:
        self.k = k

    def queries(self):
        return (TARGET_TEXTS,)

    def _score(self, texts, answers):
        return min_k_percent(answers[TARGET_TEXTS.key], self.k)
