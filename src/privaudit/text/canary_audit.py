"""Canary exposure through a language model: :func:`audit_canaries` is the only place that asks a model about canaries.

A *scorer* is anything with::

    name: str
    def token_log_probs(texts, *, vocab_stats=False) -> TokenLogProbs

(:class:`privaudit.text.causal_lm.CausalLMTarget`, or a stand-in in tests).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Protocol, Sequence

import numpy as np

from privaudit.exceptions import DataError
from privaudit.text.canaries import (
    Canary, CanaryExposure, candidates_at_or_below, fitted_exposure, log_perplexity_bits, sample_candidate_secrets, sampled_exposure,
)
from privaudit.text.canary_epsilon import CanaryEpsilonBound, canary_epsilon_bound
from privaudit.text.token_scores import TokenLogProbs, score_texts

__all__ = ["TokenScorer", "CanaryAudit", "audit_canaries"]


class TokenScorer(Protocol):
    """What a language-model target provides (see module docstring)."""

    name: str

    def token_log_probs(self, texts: Sequence[str], *, vocab_stats: bool = False) -> TokenLogProbs: ...


@dataclass
class CanaryAudit:
    """Exposure of every canary, and the per-record one-run ε bound from the coin-flipped insertions.

    ``one_run`` is a :class:`~privaudit.text.canary_epsilon.CanaryEpsilonBound`:
    its ``epsilon_lb`` is per record (converted from the per-canary bound by
    group privacy over the ``repetitions`` copies).
    """

    exposures: list[CanaryExposure]
    one_run: CanaryEpsilonBound | None
    repetitions: int
    n_candidates: int

    @property
    def inserted(self) -> np.ndarray:
        return np.array([e.inserted for e in self.exposures], dtype=bool)

    @property
    def exposure(self) -> np.ndarray:
        return np.array([e.exposure for e in self.exposures])

    def summary(self) -> dict:
        """Mean / median / max exposure of inserted and of not-inserted canaries."""
        out = {}
        for label, mask in (("inserted", self.inserted), ("not_inserted", ~self.inserted)):
            values = self.exposure[mask]
            out[label] = {"n": int(mask.sum()), "mean": float(values.mean()) if values.size else None,
                          "median": float(np.median(values)) if values.size else None, "max": float(values.max()) if values.size else None}
        return out


def audit_canaries(target: TokenScorer, canaries: Sequence[Canary], inserted, *, repetitions: int, n_candidates: int = 100,
                   alphabet: str = "0123456789", seed: int = 0, delta: float = 0.0, confidence: float = 0.95, extrapolate: bool = True,
                   progress: Callable[[str], None] | None = None) -> CanaryAudit:
    """Exposure of each canary against ``n_candidates`` sampled secrets of its format, and the per-record one-run ε bound.

    Parameters
    ----------
    target : TokenScorer
    canaries : sequence of Canary
    inserted : bool array, shape (n_canaries,)
        The coin flips: True = the canary went into the training data.
    repetitions : int
        Copies of each inserted canary in the training data (≥ 1): the
        group size of :func:`privaudit.text.canary_epsilon.canary_epsilon_bound`.
        Required, because the per-record bound depends on it.
    n_candidates : int
        Secrets sampled per canary; exposure resolves at most log₂(n_candidates + 1) bits.
    extrapolate : bool
        Also compute the skew-normal estimate ``exposure_extrapolated``
        (about 0.1–0.3 s per canary); NaN when False.

    Notes
    -----
    The headline ``exposure`` is the sampled-rank one
    (:func:`privaudit.text.canaries.sampled_exposure`); the skew-normal
    extrapolation is kept as ``exposure_extrapolated``. The one-run bound
    scores each canary by its standardised margin over its own candidates,
    (mean candidate Px − canary Px) / sd(candidate Px) — any score computed
    without the coin flips keeps the bound valid, and this one rarely ties —
    and is valid only if each canary was inserted by an independent fair
    coin flip (:func:`privaudit.text.canaries.insert_canaries` with
    probability 1/2).
    """
    inserted = np.asarray(inserted, dtype=bool)
    if inserted.shape != (len(canaries),):
        raise DataError(f"{len(canaries)} canaries but inserted has shape {inserted.shape}")
    if int(repetitions) < 1:
        raise DataError(f"canary repetitions must be ≥ 1 (copies of each inserted canary), got {repetitions}")
    candidates = [sample_candidate_secrets(c, n_candidates, alphabet=alphabet, seed=seed + i) for i, c in enumerate(canaries)]
    texts = [c.text for c in canaries] + [c.with_secret(s) for c, secrets in zip(canaries, candidates) for s in secrets]
    bits = log_perplexity_bits(score_texts(target, texts, progress=progress, description=(
        f"canaries: scoring {len(canaries)} canaries and {len(texts) - len(canaries):,} candidate secrets with {target.name}")).per_text_sum())
    exposures, margins = [], []
    for i, canary in enumerate(canaries):
        start = len(canaries) + i * n_candidates
        candidate_bits = bits[start : start + n_candidates]
        space = float(len(alphabet) ** len(canary.secret))
        margins.append((candidate_bits.mean() - bits[i]) / (candidate_bits.std() or 1.0))
        extrapolated, fit = fitted_exposure(bits[i], candidate_bits, space) if extrapolate else (math.nan, (math.nan,) * 3)
        exposures.append(CanaryExposure(
            text=canary.text, secret=canary.secret, inserted=bool(inserted[i]), log_perplexity_bits=float(bits[i]),
            exposure=sampled_exposure(bits[i], candidate_bits, space), exposure_extrapolated=extrapolated, n_candidates=n_candidates,
            n_candidates_at_or_below=candidates_at_or_below(bits[i], candidate_bits), space_size=space,
            max_exposure=math.log2(n_candidates + 1), fit=fit,
        ))
    one_run = None
    if inserted.any() and (~inserted).any():
        one_run = canary_epsilon_bound(np.array(margins), inserted, group_size=int(repetitions),
                                       delta=delta, confidence=confidence, seed=seed)
    return CanaryAudit(exposures, one_run, int(repetitions), n_candidates)
