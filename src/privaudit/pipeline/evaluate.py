"""Step 4 of every run: metrics per attack (:func:`evaluate_attacks`) and the corrected claims (:func:`corrected_claims`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from privaudit.metrics import DEFAULT_DELTA, DEFAULT_FPRS, evaluate_scores
from privaudit.pipeline.result import AttackResult
from privaudit.progress import track

__all__ = ["MetricSettings", "evaluate_attacks", "corrected_claims"]


@dataclass(frozen=True)
class MetricSettings:
    """How every result is evaluated: FPRs, bootstrap resamples, CI level, seed (one paired bootstrap), δ, coin-flip membership."""

    fprs: tuple[float, ...] = tuple(DEFAULT_FPRS)
    n_bootstrap: int = 1000
    confidence: float = 0.95
    seed: int = 0
    delta: float = DEFAULT_DELTA
    membership_randomized: bool = False


def evaluate_attacks(target_name: str, scored: Sequence, is_member: np.ndarray, settings: MetricSettings, *,
                     progress: Callable[[str], None] | None = None) -> list[AttackResult]:
    """One :class:`AttackResult` per :class:`~privaudit.pipeline.score.Scored`, in order.

    Every result's bootstrap uses ``settings.seed`` (paired: all attacks and
    targets are resampled identically). Each ε figure is corrected for being
    the best of the ``len(scored)`` attacks.
    """
    s = settings
    candidates = len(scored)
    results = []
    with track(progress, f"{target_name}: metrics of {len(scored)} attack(s)", len(scored), "attacks") as advance:
        for item in scored:
            metrics = evaluate_scores(item.scores, is_member, fprs=s.fprs, confidence=s.confidence, n_bootstrap=s.n_bootstrap, seed=s.seed,
                                      delta=s.delta, membership_randomized=s.membership_randomized, n_epsilon_candidates=candidates)
            results.append(AttackResult(target_name, item.attack.display_name, getattr(item.attack, "signal", None), item.scores, metrics))
            advance(1)
    return results


def corrected_claims(results: Sequence[AttackResult], is_member: np.ndarray, settings: MetricSettings) -> dict:
    """Target name → :class:`~privaudit.metrics.grading.TargetClaim`: the family-wise corrected verdict over each target's attacks."""
    from privaudit.metrics.grading import audit_claims

    return audit_claims(list(results), is_member, confidence=settings.confidence, seed=settings.seed)
