"""Text audits through the one pipeline: texts → language model → token log-probabilities → text attacks → metrics.

:func:`audit_text` runs the pipeline's steps (:func:`privaudit.pipeline.collect_text`
— the only place that asks a language model about audited texts —,
:func:`~privaudit.pipeline.score_attacks`, :func:`~privaudit.pipeline.evaluate_attacks`)
and returns the same :class:`~privaudit.pipeline.AuditResult` as a tabular
audit, with a :class:`~privaudit.text.section.TextSection` (blind baseline,
text claim, canaries). :func:`audit_canaries` is the only place that asks a
model about canaries. A *scorer* is anything with::

    name: str
    def token_log_probs(texts, *, vocab_stats=False) -> TokenLogProbs

(:class:`privaudit.text.causal_lm.CausalLMTarget`, or a stand-in in tests).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Protocol, Sequence

import numpy as np

from privaudit.exceptions import DataError
from privaudit.metrics import DEFAULT_DELTA, DEFAULT_FPRS
from privaudit.pipeline import (
    AuditResult, MetricSettings, TargetSummary, check_membership_randomized, collect_text, evaluate_attacks, package_versions, score_attacks,
)
from privaudit.pipeline.environment import TEXT_PACKAGES
from privaudit.text.attacks import TextAttack, build_text_attack, default_text_attacks
from privaudit.text.blind import blind_baseline, distribution_shift_warning
from privaudit.text.canaries import (
    Canary, CanaryExposure, candidates_at_or_below, fitted_exposure, log_perplexity_bits, sample_candidate_secrets, sampled_exposure,
)
from privaudit.text.canary_epsilon import CanaryEpsilonBound, canary_epsilon_bound
from privaudit.text.section import TextSection
from privaudit.text.texts import shared_texts_error
from privaudit.text.token_scores import TokenLogProbs, score_texts
from privaudit.text.verdict import text_leakage_claim

__all__ = ["TokenScorer", "CanaryAudit", "audit_text", "audit_canaries"]


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


def audit_text(
    target: TokenScorer,
    members: Sequence[str],
    nonmembers: Sequence[str],
    *,
    attacks: Sequence | None = None,
    reference: TokenScorer | None = None,
    fprs: Sequence[float] = DEFAULT_FPRS,
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    delta: float = DEFAULT_DELTA,
    membership_randomized: bool = False,
    blind: bool = True,
    record_ids: Sequence[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> AuditResult:
    """Audit a language model on member and non-member texts with text attacks and the blind baseline.

    Parameters
    ----------
    target : TokenScorer
        The audited model (e.g. :class:`~privaudit.text.causal_lm.CausalLMTarget`).
    members, nonmembers : sequence of str
        Texts the model trained on, and texts it did not (ideally from the
        same source, split at random before training).
    attacks : sequence of attack names, dicts or :class:`TextAttack`, optional
        Default: every registered text attack (``reference`` only when a
        reference model is given).
    reference : TokenScorer, optional
        A second local language model for the ``reference`` attack.
    fprs, n_bootstrap, confidence, seed, delta, membership_randomized
        As in :func:`privaudit.audit`; all attacks and the blind baseline
        share the seed (paired bootstrap).
    blind : bool
        Run the blind baseline (:mod:`privaudit.text.blind`) and warn when it
        comes close to the attacks.
    record_ids : sequence of str, optional
        Ids of members then non-members (default ``member-0``, ...).

    Returns
    -------
    AuditResult
        One target (``output_kind="token_log_probs"``, NaN accuracies),
        ``labels`` all 0, ``classes=()``, ``n_population=0``, ``claims={}``;
        ``text`` holds the texts, the blind baseline and its warning, the
        corrected text claim and the query statistics (set ``text.canaries``
        to an :func:`audit_canaries` result to report canaries).
    """
    started, started_at = time.perf_counter(), datetime.now(timezone.utc).isoformat(timespec="seconds")
    texts, is_member, ids = _audited_texts(members, nonmembers, record_ids, membership_randomized)
    chosen: list[TextAttack] = [build_text_attack(a) for a in attacks] if attacks else default_text_attacks(has_reference=reference is not None)
    settings = MetricSettings(tuple(float(f) for f in fprs), n_bootstrap, confidence, seed, float(delta), bool(membership_randomized))
    collected = collect_text(target, texts, chosen, reference=reference, progress=progress)
    scored = score_attacks(target.name, chosen, collected, progress=progress)
    results = evaluate_attacks(target.name, scored, is_member, settings, n_epsilon_candidates=1, progress=progress)
    section = _text_section(texts, results, is_member, settings, blind=blind, progress=progress)
    section.reference, section.queries = (None if reference is None else reference.name), collected.text_stats
    return AuditResult(
        results=results, targets=[TargetSummary(target.name, "token_log_probs", math.nan, math.nan)], record_ids=ids, is_member=is_member,
        labels=np.zeros(len(texts), dtype=int), classes=(), n_population=0, seed=seed, fprs=settings.fprs, confidence=confidence,
        started_at=started_at, duration_s=time.perf_counter() - started, versions=package_versions(TEXT_PACKAGES), delta=settings.delta,
        membership_randomized=settings.membership_randomized, claims={}, text=section,
    )


def _audited_texts(members, nonmembers, record_ids, membership_randomized: bool):
    """Members then non-members as ``(texts, is_member, ids)``, refusing empty, shared or mis-counted input."""
    texts = [str(t) for t in members] + [str(t) for t in nonmembers]
    is_member = np.r_[np.ones(len(members), bool), np.zeros(len(nonmembers), bool)]
    if not len(members) or not len(nonmembers):
        raise DataError(f"a text audit needs at least one member and one non-member (have {len(members)} and {len(nonmembers)})")
    empty = [i for i, t in enumerate(texts) if not t.strip()]
    if empty:
        raise DataError(f"{len(empty)} audited text(s) are empty (e.g. number {empty[0]}); remove them")
    shared = shared_texts_error(members, nonmembers)
    if shared:
        raise DataError(shared)
    if membership_randomized:
        check_membership_randomized(is_member, "text audit")
    ids = np.asarray(record_ids if record_ids is not None else [f"member-{i}" for i in range(len(members))] + [f"nonmember-{i}" for i in range(len(nonmembers))])
    if ids.shape != (len(texts),):
        raise DataError(f"record_ids has {ids.size} ids for {len(texts)} texts")
    return texts, is_member, ids


def _text_section(texts: list[str], results, is_member, settings: MetricSettings, *, blind: bool, progress) -> TextSection:
    """The blind baseline (when ``blind``), its distribution-shift warning, and the corrected claim over the text attacks."""
    baseline, warning = None, None
    if blind:
        if progress is not None:
            progress("blind baseline: bag-of-words classifier on the texts alone")
        baseline = blind_baseline(texts, is_member, seed=settings.seed, fprs=settings.fprs, n_bootstrap=settings.n_bootstrap, confidence=settings.confidence)
        warning = distribution_shift_warning(baseline.metrics, {r.attack: r.metrics for r in results}, p_value=baseline.p_value,
                                             alpha=1.0 - settings.confidence)
    claim = text_leakage_claim({r.attack: r.scores for r in results}, is_member, confidence=settings.confidence,
                               aucs={r.attack: (r.metrics.auc, *r.metrics.auc_ci) for r in results}, distribution_shift=warning is not None)
    return TextSection(texts=texts, blind=baseline, warning=warning, claim=claim)
