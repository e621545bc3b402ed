"""Lowercase-ratio attack (Carlini et al. 2021, "Extracting Training Data from Large Language Models", §5.2)."""

from __future__ import annotations

from privaudit.text.attacks.base import TARGET_LOWERCASE, TARGET_TEXTS, TEXT_ATTACKS, TextAttack
from privaudit.text.signals import lowercase_ratio, mean_token_loss


@TEXT_ATTACKS.register("lowercase")
class LowercaseAttack(TextAttack):
    """Score = −L(x) / L(lower(x)): the model finds the exact casing much easier than the lower-cased text → member.

    Queries the target twice: on the texts and on their lower-cased copies.

    Examples
    --------
    >>> from privaudit.text.token_scores import TokenLogProbs
    >>> answers = {"target:identity": TokenLogProbs.from_arrays([[-0.5], [-2.0]]),
    ...            "target:lowercase": TokenLogProbs.from_arrays([[-2.0], [-2.0]])}
    >>> LowercaseAttack().score(["Ab", "Cd"], answers).tolist()
    [-0.25, -1.0]
    """

    name = "lowercase"

    def queries(self):
        return (TARGET_TEXTS, TARGET_LOWERCASE)

    def _score(self, texts, answers):
        return -lowercase_ratio(mean_token_loss(answers[TARGET_TEXTS.key]), mean_token_loss(answers[TARGET_LOWERCASE.key]))
