"""Text audits through the one pipeline: texts → language model → token log-probabilities → text attacks → metrics.

:func:`audit_text` runs the pipeline's steps (:func:`~privaudit.pipeline.collect.collect_text`
— the only place that asks a language model about audited texts —,
:func:`~privaudit.pipeline.score.score_attacks`, :func:`~privaudit.pipeline.evaluate.evaluate_attacks`)
and returns the same :class:`~privaudit.pipeline.result.AuditResult` as a tabular
audit, with a :class:`~privaudit.text.section.TextSection` (blind baseline,
text claim, canaries). :func:`run_text_audit` is what ``privaudit audit`` runs
for a config whose target is a language model (``type: causal_lm``,
:mod:`privaudit.text.target_config`); the LLM demo (``privaudit demo --llm``)
and ``privaudit text-audit`` write such a config and run it the same way.
Canaries: :func:`privaudit.text.canary_audit.audit_canaries`.
"""

from __future__ import annotations

import math
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from privaudit.exceptions import DataError
from privaudit.metrics import DEFAULT_DELTA, DEFAULT_FPRS
from privaudit.pipeline.collect import collect_text
from privaudit.pipeline.config_facts import with_config_facts
from privaudit.pipeline.environment import TEXT_PACKAGES, package_versions
from privaudit.pipeline.evaluate import MetricSettings, evaluate_attacks
from privaudit.pipeline.inputs import check_membership_randomized
from privaudit.pipeline.result import AuditResult, TargetSummary
from privaudit.pipeline.score import score_attacks
from privaudit.text.attacks import TextAttack, build_text_attack, default_text_attacks
from privaudit.text.blind import blind_baseline, distribution_shift_warning
from privaudit.text.canary_audit import TokenScorer
from privaudit.text.section import TextSection
from privaudit.text.texts import shared_texts_error
from privaudit.text.verdict import text_leakage_claim

__all__ = ["audit_text", "run_text_audit"]


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
    persons: Sequence[str] | None = None,
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
    persons : sequence of str, optional
        Whose text each is (members then non-members) when membership was
        decided per person: the blind baseline keeps each person's texts in
        one fold and tests persons, not texts (:mod:`privaudit.text.blind`).

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
    results = evaluate_attacks(target.name, scored, is_member, settings, progress=progress)  # ε corrected for the number of attacks, as for tabular audits
    section = _text_section(texts, results, is_member, settings, blind=blind, progress=progress, persons=persons)
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


def _text_section(texts: list[str], results, is_member, settings: MetricSettings, *, blind: bool, progress, persons=None) -> TextSection:
    """The blind baseline (when ``blind``), its distribution-shift warning, and the corrected claim over the text attacks."""
    baseline, warning = None, None
    if blind:
        if progress is not None:
            progress("blind baseline: bag-of-words classifier on the texts alone")
        baseline = blind_baseline(texts, is_member, seed=settings.seed, fprs=settings.fprs, n_bootstrap=settings.n_bootstrap, confidence=settings.confidence,
                                  groups=None if persons is None else np.asarray(persons, dtype=str))
        warning = distribution_shift_warning(baseline.metrics, {r.attack: r.metrics for r in results}, p_value=baseline.p_value,
                                             alpha=1.0 - settings.confidence)
    claim = text_leakage_claim({r.attack: r.scores for r in results}, is_member, confidence=settings.confidence,
                               aucs={r.attack: (r.metrics.auc, *r.metrics.auc_ci) for r in results}, distribution_shift=warning is not None)
    return TextSection(texts=texts, blind=baseline, warning=warning, claim=claim)


def run_text_audit(config, base_dir: str | Path = ".", *, progress: Callable[[str], None] | None = None, data=None) -> AuditResult:
    """Load the texts and language model(s) a validated text-audit :class:`~privaudit.config.AuditConfig` names, and audit them.

    Every attack and the blind baseline share ``config.seed`` (paired
    bootstrap); canaries (the target's ``canaries`` block) are scored with the
    same seed. ``config`` is redacted into ``result.config`` and hashed into
    ``result.config_hash`` as for a tabular audit.

    ``data`` (:class:`~privaudit.text.data.TextData`) are the texts the
    config's ``data`` names, given from memory by a caller that holds them
    before the file is written (``privaudit text-audit``, whose config and
    texts are written together with the report); read from the file otherwise.
    """
    from privaudit.text.target_config import check_causal_lm_files, load_causal_lm_targets
    from privaudit.text.canary_audit import audit_canaries
    from privaudit.text.data import load_text_data, read_canaries

    started = time.perf_counter()
    base_dir = Path(base_dir)
    d, m, spec = config.data, config.data.membership, config.targets[0]
    resolve = lambda p: None if p is None else base_dir / p  # noqa: E731
    data = data if data is not None else load_text_data(base_dir / d.path, text_column=d.text_column or "text", id_column=d.id_column, membership_column=m.column,
                          members_file=resolve(m.members), nonmembers_file=resolve(m.nonmembers), person_column=d.person_column)
    check_causal_lm_files(spec, base_dir)
    canaries = None if spec.canaries is None else read_canaries(base_dir / spec.canaries.path)
    say = progress or (lambda message: None)
    say(f"loading language model {spec.name}" + (" and its reference" if spec.reference else ""))
    target, reference = load_causal_lm_targets(spec, base_dir)
    result = audit_text(target, data.members, data.nonmembers, attacks=config.attacks, reference=reference, fprs=config.metrics.fprs,
                             n_bootstrap=config.metrics.bootstrap, confidence=config.metrics.confidence, seed=config.seed,
                             delta=config.metrics.delta, membership_randomized=m.randomized, record_ids=data.record_ids, progress=progress,
                             persons=None if data.member_persons is None else [*data.member_persons, *data.nonmember_persons])
    if canaries is not None:
        c = spec.canaries
        result.text.canaries = audit_canaries(target, canaries[0], canaries[1], repetitions=c.repetitions, n_candidates=c.n_candidates,
                                              alphabet=c.alphabet, seed=config.seed, delta=result.delta,
                                              confidence=config.metrics.confidence, extrapolate=c.extrapolate, progress=progress)
    result.data_source = str(base_dir / d.path)
    result.duration_s = time.perf_counter() - started
    with_config_facts(result, config, base_dir)  # made relative to the config again, with the config, its hash and trust
    return result
