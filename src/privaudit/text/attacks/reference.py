"""Reference-model attack (Carlini et al. 2021, "Extracting Training Data from Large Language Models", §5.2 "Small", "Medium")."""

from __future__ import annotations

from privaudit.text.attacks.base import REFERENCE_TEXTS, TARGET_TEXTS, TEXT_ATTACKS, TextAttack
from privaudit.text.signals import mean_token_loss, reference_difference


@TEXT_ATTACKS.register("reference")
class ReferenceModelAttack(TextAttack):
    """Score = L_ref(x) − L(x) = (1/T_ref)·(−log p_ref(x)) − (1/T)·(−log p(x)): easier for the target than for a reference model → member.

    The reference is any second local language model, e.g. the pretrained
    model the target was fine-tuned from, or a smaller model of the same
    family. Mean per-token losses are compared, so the two models may use
    different tokenizers.

    Examples
    --------
    >>> from privaudit.text.token_scores import TokenLogProbs
    >>> answers = {"target:identity": TokenLogProbs.from_arrays([[-1.0], [-1.0]]),
    ...            "reference:identity": TokenLogProbs.from_arrays([[-3.0], [-1.0]])}
    >>> ReferenceModelAttack().score(["a", "b"], answers).tolist()
    [2.0, 0.0]
    """

    name = "reference"

    def queries(self):
        return (TARGET_TEXTS, REFERENCE_TEXTS)

    def _score(self, texts, answers):
        return reference_difference(mean_token_loss(answers[TARGET_TEXTS.key]), mean_token_loss(answers[REFERENCE_TEXTS.key]))
