"""The front door: :func:`audit` over named steps, and :func:`run_audit` from a validated config.

Every entry point goes through the same steps (load inputs → targets →
collect signals → score attacks → evaluate → result): ``privaudit audit``
and ``demo`` (:func:`run_audit`), ``check`` (:mod:`privaudit.record_check`),
``text-audit`` (:func:`privaudit.pipeline.text_audit.audit_text`) and ``sweep``
(:mod:`privaudit.sweep.run`, which calls :func:`audit`).
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Mapping, Sequence

from privaudit.data import AuditData
from privaudit.metrics import DEFAULT_DELTA, DEFAULT_FPRS
from privaudit.pipeline.attack_choice import MIN_MODELS_TO_TUNE_RMIA, build_attacks, default_attacks, rmia_tunable
from privaudit.pipeline.config_facts import with_config_facts
from privaudit.pipeline.collect import api_call_counts, check_needs, collect
from privaudit.pipeline.environment import package_versions
from privaudit.pipeline.evaluate import MetricSettings, corrected_claims, evaluate_attacks
from privaudit.pipeline.inputs import check_membership_randomized, load_inputs
from privaudit.pipeline.result import AuditResult, TargetSummary
from privaudit.pipeline.score import score_attacks
from privaudit.query_signals import answers_new_records

__all__ = ["audit", "run_audit"]


def audit(
    data: AuditData,
    targets: Sequence,
    attacks: Sequence | None = None,
    *,
    fprs: Sequence[float] = DEFAULT_FPRS,
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    reference=None,
    progress: Callable[[str], None] | None = None,
    groups: Mapping[str, Sequence] | None = None,
    delta: float = DEFAULT_DELTA,
    membership_randomized: bool = False,
) -> AuditResult:
    """Audit each target with each attack on ``data``.

    Parameters
    ----------
    data : AuditData
    targets : sequence of Target
    attacks : sequence of attacks or config specs, optional
        Default: :func:`~privaudit.pipeline.default_attacks` for each target.
    fprs, n_bootstrap, confidence, seed
        Passed to :func:`privaudit.metrics.evaluate_scores`. Every result's
        bootstrap uses the same ``seed``, so all attacks and targets are
        resampled identically (paired bootstrap: their CIs are comparable,
        and the same scores always get the same CI).
    reference : ReferencePlan or dict of target name → ReferencePlan, optional
        How to train reference models, for attacks that need them (LiRA,
        RMIA, ...); see :class:`privaudit.reference.plan.ReferencePlan`.
        With a plan and no ``attacks``, the defaults add LiRA, RMIA and
        calibrated loss in the plan's mode.
    progress : callable, optional
        Called with a short message before each stage (a reporter with
        ``start_task`` draws bars, :func:`privaudit.progress.track`).
    groups : mapping of slicing name → labels, optional
        Group label of each audited record (aligned with ``data.audited``:
        members then non-members), e.g. ``{"sex": ..., "age band": ...}``;
        see :mod:`privaudit.metrics.groups` for label builders. Each
        target's best attack is then evaluated per group (``AuditResult.groups``).
    delta : float
        δ of each result's ε lower bound (:mod:`privaudit.metrics.epsilon`).
    membership_randomized : bool
        Declare that every audited record was made a member by an independent
        fair coin flip before training. The ε figure is then the one-run bound
        (Steinke et al. 2023), a valid lower bound; otherwise it is labelled a
        heuristic estimate. Member/non-member counts far from an even split
        are refused (:func:`~privaudit.pipeline.check_membership_randomized`).
    """
    started = time.perf_counter()
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    if membership_randomized:
        check_membership_randomized(data.audited_is_member, data.source)
    settings = MetricSettings(tuple(float(f) for f in fprs), n_bootstrap, confidence, seed, float(delta), bool(membership_randomized))
    audited = data.records.subset(data.audited)  # once: every target is asked about the same records
    result = _empty_result(data, audited, settings, started_at)
    for target in targets:
        plan = reference.get(target.name) if isinstance(reference, Mapping) else reference
        _audit_target(result, data, audited, target, _attacks_for(target, data, audited, attacks, plan, progress), plan, settings, progress)
    result.claims = corrected_claims(result.results, result.is_member, settings)
    if data.person_ids is not None:  # membership per person: a person-level ROC of each target's best attack
        from privaudit.pipeline.person_roc import person_rocs

        result.persons = person_rocs(result, data.person_ids[data.audited], fprs=settings.fprs, confidence=confidence,
                                     n_bootstrap=n_bootstrap, seed=seed)
    if groups:
        from privaudit.metrics.groups import analyse_groups

        if progress is not None:
            progress(f"slicing by {', '.join(groups)}")
        result.groups = analyse_groups(result, groups, n_bootstrap=n_bootstrap)
    result.duration_s = time.perf_counter() - started
    return result


def _empty_result(data: AuditData, audited, settings: MetricSettings, started_at: str) -> AuditResult:
    """The result's record-level fields (``audited``: the audited records), before any target is audited."""
    return AuditResult(
        results=[], targets=[], record_ids=audited.ids, is_member=data.audited_is_member, labels=audited.labels, classes=audited.classes,
        n_population=int(data.population.size), seed=settings.seed, fprs=settings.fprs, confidence=settings.confidence,
        data_source=data.source, started_at=started_at, versions=package_versions(), delta=settings.delta,
        membership_randomized=settings.membership_randomized,
    )


def _attacks_for(target, data: AuditData, audited, attacks, plan, progress=None) -> list:
    """The configured attacks, or every default one that applies to ``target``; refused here if the target or data cannot serve them."""
    has_population = bool(data.population.size)
    if attacks:
        chosen = build_attacks(attacks)
    else:
        features = audited.features if answers_new_records(target) else None
        chosen = default_attacks(target.output_kind, has_population, plan.mode if plan is not None else None, features=features,
                                 n_reference_models=plan.n_models if plan is not None else None)
        if progress is not None and has_population and plan is not None and not rmia_tunable(plan.mode, plan.n_models):
            progress(f"{target.name}: offline RMIA left out: tuning its offline_a needs at least {MIN_MODELS_TO_TUNE_RMIA} reference models "
                     "(name it with a fixed offline_a to run it)")
    check_needs(target, chosen, has_population=has_population, plan=plan)
    return chosen


def _audit_target(result: AuditResult, data: AuditData, audited, target, attacks: list, plan, settings: MetricSettings, progress) -> None:
    """Collect → score → evaluate one target on ``audited``; appends its results, summary, reference and API-call facts to ``result``."""
    population_labels = data.records.labels[data.population] if data.population.size else None
    collected = collect(target, data, audited, attacks, plan=plan, seed=settings.seed, progress=progress)
    if collected.reference_info is not None:
        result.reference[target.name] = collected.reference_info
    calls = api_call_counts(target)
    if calls is not None:
        result.api_calls[target.name] = calls
    correct, is_member = collected.signals["correctness"], result.is_member
    result.targets.append(TargetSummary(target.name, target.output_kind, float(correct[is_member].mean()), float(correct[~is_member].mean()),
                                        queries=collected.queries))
    scored = score_attacks(target.name, attacks, collected, audited.labels, population_labels, progress=progress)
    result.results.extend(evaluate_attacks(target.name, scored, is_member, settings, progress=progress))


def run_audit(config, base_dir: str | Path = ".", *, progress: Callable[[str], None] | None = None) -> AuditResult:
    """Load data and targets that a validated :class:`~privaudit.config.AuditConfig` names (:func:`~privaudit.pipeline.load_inputs`), and audit them."""
    from privaudit.text.target_config import is_text_audit

    if is_text_audit(config):  # a language model audited on texts: the same steps, through the text entry point
        from privaudit.pipeline.text_audit import run_text_audit

        return run_text_audit(config, base_dir, progress=progress)
    inputs = load_inputs(config, base_dir)
    m = config.metrics
    result = audit(inputs.data, inputs.targets, config.attacks, fprs=m.fprs, n_bootstrap=m.bootstrap, confidence=m.confidence, seed=config.seed,
                   reference=inputs.plans or None, progress=progress, groups=inputs.groups, delta=m.delta,
                   membership_randomized=config.data.membership.randomized)
    return with_config_facts(result, config, base_dir)
