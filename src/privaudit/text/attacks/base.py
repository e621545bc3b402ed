"""What every text attack shares: the registry, the queries it asks for, and the contract.

A text attack turns a language model's token log-probabilities into one
membership score per text, **higher = more likely a member**. It never sees a
model: it declares the :class:`TextQuery` objects it needs (which model —
the audited ``target`` or a ``reference`` model —, on which texts — the texts
themselves, lower-cased, or perturbed neighbours —, and whether the
next-token distribution's mean and spread are needed), and
:func:`privaudit.pipeline.collect_text` asks the models once per distinct
query. So every attack can be tested on hand-made log-probabilities.

Contract (checked for every registered attack by ``tests/test_text_attacks.py``):

* ``__init__`` stores keyword-only parameters and nothing else (scikit-learn style);
* ``queries()`` returns the :class:`TextQuery` tuple it needs;
* ``score(texts, answers)`` returns float64 of shape ``(n_texts,)``, where
  ``answers[query.key]`` is a :class:`~privaudit.text.token_scores.TokenLogProbs`
  for ``query.texts(texts)``;
* it is deterministic (any randomness is seeded by a parameter).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Mapping, Sequence

import numpy as np
from sklearn.base import BaseEstimator

from privaudit.attacks.needs import AttackNeeds
from privaudit.exceptions import CapabilityError, DataError
from privaudit.registry import Registry
from privaudit.text.perturb import neighbour_texts
from privaudit.text.token_scores import TokenLogProbs

__all__ = ["TEXT_ATTACKS", "TextAttack", "TextQuery", "answer_for", "TARGET_TEXTS", "TARGET_LOWERCASE", "REFERENCE_TEXTS"]

TEXT_ATTACKS: Registry[type] = Registry("text attack")


@dataclass(frozen=True)
class TextQuery:
    """One set of texts to score with one model.

    Attributes
    ----------
    model : {"target", "reference"}
        The audited model, or the reference model given to the audit.
    transform : {"identity", "lowercase", "neighbours"}
        The texts as they are, lower-cased, or ``n_neighbours`` perturbed
        copies of each (:func:`privaudit.text.perturb.neighbour_texts`).
    vocab_stats : bool
        Whether μ_t and σ_t of the next-token distribution are needed.
    n_neighbours, edit_rate, seed
        Neighbour parameters (``transform == "neighbours"`` only).
    """

    model: Literal["target", "reference"] = "target"
    transform: Literal["identity", "lowercase", "neighbours"] = "identity"
    vocab_stats: bool = False
    n_neighbours: int = 0
    edit_rate: float = 0.0
    seed: int = 0

    @property
    def key(self) -> str:
        """Identifies the model's answer: the same key means the same texts on the same model (vocab_stats aside)."""
        if self.transform == "neighbours":
            return f"{self.model}:neighbours(m={self.n_neighbours},rate={self.edit_rate:g},seed={self.seed})"
        return f"{self.model}:{self.transform}"

    @property
    def texts_per_text(self) -> int:
        return self.n_neighbours if self.transform == "neighbours" else 1

    def texts(self, texts: Sequence[str]) -> list[str]:
        """The texts this query sends to the model for the audited ``texts``."""
        if self.transform == "identity":
            return [str(t) for t in texts]
        if self.transform == "lowercase":
            return [str(t).lower() for t in texts]
        return neighbour_texts(texts, n_neighbours=self.n_neighbours, edit_rate=self.edit_rate, seed=self.seed)


TARGET_TEXTS = TextQuery()
TARGET_LOWERCASE = TextQuery(transform="lowercase")
REFERENCE_TEXTS = TextQuery(model="reference")


def answer_for(answers: Mapping[str, TokenLogProbs], query: TextQuery, n_texts: int, attack: str) -> TokenLogProbs:
    """``answers[query.key]``, checked to hold ``n_texts × texts_per_text`` texts (and μ, σ if the query wants them)."""
    if query.key not in answers:
        who = "a reference model" if query.model == "reference" else "the target"
        raise CapabilityError(f"text attack '{attack}' needs {who}'s answers '{query.key}', which were not computed (have: {', '.join(sorted(answers)) or 'none'})")
    answer = answers[query.key]
    expected = n_texts * query.texts_per_text
    if answer.n_texts != expected:
        raise DataError(f"text attack '{attack}': answers '{query.key}' cover {answer.n_texts} texts, expected {expected}")
    if query.vocab_stats and not answer.has_vocab_stats:
        raise CapabilityError(f"text attack '{attack}' needs the next-token distribution's mean and spread in '{query.key}' (vocab_stats)")
    return answer


class TextAttack(BaseEstimator):
    """Base of registered text attacks; subclasses set ``name`` and implement ``queries`` and ``_score``."""

    name: str = "text_attack"

    @property
    def display_name(self) -> str:
        params = self.get_params()
        return self.name + (f"[{','.join(f'{k}={v}' for k, v in sorted(params.items()))}]" if params else "")

    def queries(self) -> tuple[TextQuery, ...]:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def needs(self) -> AttackNeeds:
        """The text queries this attack reads (:meth:`queries`); the pipeline answers each distinct key once."""
        return AttackNeeds(text_queries=tuple(self.queries()))

    def score(self, texts: Sequence[str], answers: Mapping[str, TokenLogProbs]) -> np.ndarray:
        """Membership score per text, float64 (n_texts,), higher = more likely a member."""
        texts = [str(t) for t in texts]
        got = {q.key: answer_for(answers, q, len(texts), self.display_name) for q in self.queries()}
        scores = np.asarray(self._score(texts, got), dtype=np.float64)
        if scores.shape != (len(texts),):
            raise DataError(f"text attack '{self.display_name}' gave shape {scores.shape} for {len(texts)} texts")
        return scores

    def _score(self, texts: list[str], answers: dict[str, TokenLogProbs]) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError
