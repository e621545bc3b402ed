"""Step 3 of every run: the ONE fit/score dispatch, driven by each attack's :class:`~privaudit.attacks.needs.AttackNeeds`.

* text attacks (``needs.text_queries``): ``score(texts, answers)``;
* reference attacks (``needs.reference``): ``fit(signals, labels, reference).score(signals, labels, reference)``;
* attacks that learn from population records (``needs.population``):
  ``fit(population_signals, population_labels)`` then ``score(signals, labels)``,
  each with ``features=`` (the records' feature table) when ``needs.features``;
* the rest: ``score(signals, labels)``.

Every score is a float array over the queried records, higher = more likely a member.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from privaudit.pipeline.collect import Collected, missing_population_error
from privaudit.progress import track

__all__ = ["Scored", "score_attack", "score_attacks", "score_parts"]


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
            if collected.population_signals is None or (needs.features and collected.population_features is None):
                raise missing_population_error(attack)
            attack.fit(collected.population_signals, population_labels, **({"features": collected.population_features} if needs.features else {}))
        scores = attack.score(signals, labels, **({"features": collected.features} if needs.features else {}))
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


def score_parts(target, data, attack, parts, *, plan, seed: int, progress: Callable[[str], None] | None = None,
                reference_design=None) -> tuple[dict, dict | None, dict | None]:
    """Score named record sets in ONE pass of :func:`~privaudit.pipeline.collect.collect` and :func:`score_attack` (``privaudit check``).

    ``parts`` maps names to :class:`~privaudit.data.RecordSet` (checked records, members, null, ...); they
    are queried and scored together, the reference models (``plan``; ``reference_design`` = ``(pool, keep)``
    for an online check's own design) scoring them all. Returns ``({name: scores}, {name: log likelihood
    ratios} or None, what the reference engine did or None)``, each array in the part's record order.
    """
    from privaudit.data import concat_records
    from privaudit.pipeline.collect import check_needs, collect, split_parts

    everything = concat_records(list(parts.values()))
    check_needs(target, [attack], has_population=bool(data.population.size), plan=plan)
    collected = collect(target, data, everything, [attack], plan=plan, seed=seed, progress=progress, always=(),
                        reference_query=everything if attack.needs.reference else None, reference_design=reference_design)
    population_labels = data.records.labels[data.population] if data.population.size else None
    scored = score_attack(attack, collected, everything.labels, population_labels)
    sizes = [len(p) for p in parts.values()]
    scores = dict(zip(parts, split_parts(scored.scores, sizes), strict=True))
    ratios = None if scored.log_likelihood_ratios is None else dict(zip(parts, split_parts(scored.log_likelihood_ratios, sizes), strict=True))
    return scores, ratios, collected.reference_info
