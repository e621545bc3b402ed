"""LOSS / perplexity attack on text (Yeom et al. 2018; Carlini et al. 2021 "Perplexity")."""

from __future__ import annotations

from privaudit.text.attacks.base import TARGET_TEXTS, TEXT_ATTACKS, TextAttack
from privaudit.text.signals import mean_token_loss


@TEXT_ATTACKS.register("loss")
class LossAttack(TextAttack):
    """Score = −L(x) = (1/T) Σ_t log p(x_t | x_<t) = −log PPL(x): lower perplexity → more likely a member.

    Examples
    --------
    >>> from privaudit.text.token_scores import TokenLogProbs
    >>> answers = {"target:identity": TokenLogProbs.from_arrays([[-1.0, -3.0], [-0.5]])}
    >>> LossAttack().score(["a b", "a"], answers).tolist()
    [-2.0, -0.5]
    """

    name = "loss"

    def queries(self):
        return (TARGET_TEXTS,)

    def _score(self, texts, answers):
        return -mean_token_loss(answers[TARGET_TEXTS.key])
