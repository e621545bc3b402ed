"""Neighbourhood comparison (Mattern et al. 2023, "Membership Inference Attacks against Language Models via Neighbourhood Comparison", Findings of ACL)."""

from __future__ import annotations

import numpy as np

from privaudit.text.attacks.base import TARGET_TEXTS, TEXT_ATTACKS, TextAttack, TextQuery
from privaudit.text.signals import mean_token_loss, neighbourhood_difference


@TEXT_ATTACKS.register("neighbourhood")
class NeighbourhoodAttack(TextAttack):
    """Score = (1/m) Σ_j L(x̃_j) − L(x) over m neighbours x̃_j of x made without a model.

    Neighbours are seeded word-level edits (swap, delete, duplicate;
    :mod:`privaudit.text.perturb`) instead of the paper's BERT substitutions,
    so no second model is needed. A member's loss is low relative to its
    neighbours, which the model never saw.

    Parameters
    ----------
    n_neighbours : int
        m, neighbours per text (each one more query of the target).
    edit_rate : float
        Edits per word (at least one edit per neighbour).
    seed : int

    Examples
    --------
    >>> from privaudit.text.token_scores import TokenLogProbs
    >>> attack = NeighbourhoodAttack(n_neighbours=2)
    >>> answers = {"target:identity": TokenLogProbs.from_arrays([[-0.5], [-2.0]]),
    ...            attack.queries()[1].key: TokenLogProbs.from_arrays([[-2.0], [-2.0], [-2.0], [-2.0]])}
    >>> attack.score(["one two", "three four"], answers).tolist()
    [1.5, 0.0]
    """

    name = "neighbourhood"

    def __init__(self, *, n_neighbours: int = 8, edit_rate: float = 0.1, seed: int = 0) -> None:
        self.n_neighbours = n_neighbours
        self.edit_rate = edit_rate
        self.seed = seed

    def queries(self):
        if int(self.n_neighbours) < 1:
            raise ValueError(f"neighbourhood: n_neighbours must be ≥ 1, got {self.n_neighbours}")
        return (TARGET_TEXTS, TextQuery(transform="neighbours", n_neighbours=int(self.n_neighbours), edit_rate=float(self.edit_rate), seed=int(self.seed)))

    def _score(self, texts, answers):
        target, neighbours = self.queries()
        loss = mean_token_loss(answers[target.key])
        neighbour_loss = mean_token_loss(answers[neighbours.key]).reshape(len(texts), neighbours.n_neighbours)
        return neighbourhood_difference(loss, np.asarray(neighbour_loss))
