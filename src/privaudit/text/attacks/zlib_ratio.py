"""zlib-ratio attack (Carlini et al. 2021, "Extracting Training Data from Large Language Models", §5.2)."""

from __future__ import annotations

from privaudit.text.attacks.base import TARGET_TEXTS, TEXT_ATTACKS, TextAttack
from privaudit.text.signals import mean_token_loss, zlib_entropy, zlib_ratio


@TEXT_ATTACKS.register("zlib")
class ZlibAttack(TextAttack):
    """Score = −L(x) / Z(x), Z = zlib entropy of the text in bits: low loss that compression does not explain → member.

    Examples
    --------
    >>> from privaudit.text.token_scores import TokenLogProbs
    >>> answers = {"target:identity": TokenLogProbs.from_arrays([[-1.0], [-1.0]])}
    >>> s = ZlibAttack().score(["aaaaaaaaaaaaaaaaaaaa", "a varied little sentence"], answers)
    >>> bool(s[1] > s[0])   # same loss, but the second text is harder to compress
    True
    """

    name = "zlib"

    def queries(self):
        return (TARGET_TEXTS,)

    def _score(self, texts, answers):
        return -zlib_ratio(mean_token_loss(answers[TARGET_TEXTS.key]), zlib_entropy(texts))
