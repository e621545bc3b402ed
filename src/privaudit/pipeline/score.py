"""Step 3 of every run: the ONE fit/score dispatch, driven by each attack's :class:`~privaudit.attacks.needs.AttackNeeds`.

* text attacks (``needs.text_queries``): ``score(texts, answers)``;
* reference attacks (``needs.reference``): ``fit(signals, labels, reference).score(signals, labels, reference)``;
* attacks that learn from population records (``needs.population``):
  ``fit(population_signals, population_labels)`` then ``score(signals, labels)``;
* the rest: ``score(signals, labels)``.

Every score is a float array over the queried records, higher = more likely a member.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from privaudit.pipeline.collect import Collected, missing_population_error
from privaudit.progress import track

__all__ = ["Scored", "score_attack", "score_attacks"]


@dataclass(frozen=True)
class Scored:
    """One attack's scores, shape ``(n_records,)``, and its log likelihood ratios when the attack gives them (online LiRA, RMIA), else None."""

    attack: object
    scores: np.ndarray
    log_likelihood_ratios: np.ndarray | None = None


def score_attack(attack, collected: Collected, labels: np.ndarray | None = None, population_labels: np.ndarray | None = None) -> Scored:
    """Fit ``attack`` as its needs say and score the collected records (see the module docstring)."""
    needs = attack.needs
    signals = collected.signals
    if needs.texts:
        scores = attack.score(collected.texts, collected.answers)
    elif needs.reference:
        scores = attack.fit(signals, labels, collected.reference).score(signals, labels, collected.reference)
    else:
        if needs.population:
            if collected.population_signals is None:
                raise missing_population_error(attack)
            attack.fit(collected.population_signals, population_labels)
        scores = attack.score(signals, labels)
    ratios = getattr(attack, "log_likelihood_ratios_", None)  # a fitted attribute (set by score), not a need
    return Scored(attack, np.asarray(scores, dtype=np.float64), None if ratios is None else np.asarray(ratios, dtype=np.float64))


def score_attacks(target_name: str, attacks: Sequence, collected: Collected, labels: np.ndarray | None = None, population_labels: np.ndarray | None = None,
                  *, progress: Callable[[str], None] | None = None) -> list[Scored]:
    """:func:`score_attack` for each of ``attacks``, in order, as one counted step."""
    out = []
    with track(progress, f"{target_name}: scoring {len(attacks)} attack(s)", len(attacks), "attacks") as advance:
        for attack in attacks:
            out.append(score_attack(attack, collected, labels, population_labels))
            advance(1)
    return out
