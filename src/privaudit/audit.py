"""Wire the stages: data → target → signals → attacks → metrics. Nothing else.

:func:`audit` works on objects already in memory (the Python API);
:func:`run_audit` loads them from a validated config and calls it.
"""

from __future__ import annotations

import platform
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

from privaudit.attacks import ThresholdAttack, build_attack
from privaudit.data import AuditData
from privaudit.exceptions import CapabilityError, DataError
from privaudit.metrics import DEFAULT_DELTA, DEFAULT_FPRS, ScoreMetrics, evaluate_scores
from privaudit.metrics.grading import audit_claims
from privaudit.progress import reference_training_progress
from privaudit.query_signals import QueryLedger, answers_new_records, check_query_requests, compute_query_signals
from privaudit.signals import SIGNALS, compute_signals

__all__ = ["AttackResult", "TargetSummary", "AuditResult", "audit", "run_audit", "default_attacks", "check_membership_randomized"]


@dataclass(frozen=True)
class AttackResult:
    """One (target, attack) pair: per-record scores over the audited records and their metrics."""

    target: str
    attack: str
    signal: str | None
    scores: np.ndarray
    metrics: ScoreMetrics


@dataclass(frozen=True)
class TargetSummary:
    """What the audit saw of a target: its output kind, accuracy on members vs non-members, and the queries it answered."""

    name: str
    output_kind: str
    accuracy_members: float
    accuracy_nonmembers: float
    #: records the target was asked about in this audit, plain and perturbed (:class:`privaudit.query_signals.QueryCount`)
    queries: object = None


@dataclass
class AuditResult:
    """Everything a report renders. ``record_ids``/``is_member``/``labels`` align with every ``scores`` array."""

    results: list[AttackResult]
    targets: list[TargetSummary]
    record_ids: np.ndarray
    is_member: np.ndarray
    labels: np.ndarray
    classes: tuple
    n_population: int
    seed: int
    fprs: tuple[float, ...]
    confidence: float
    config: dict | None = None
    config_hash: str | None = None
    data_source: str = "<memory>"
    started_at: str = ""
    duration_s: float = 0.0
    versions: dict = field(default_factory=dict)
    #: per target that used reference models: n_models, mode, backend, trained, reused
    reference: dict = field(default_factory=dict)
    #: target name → :class:`privaudit.metrics.groups.TargetGroups` (best attack sliced by each group labelling)
    groups: dict = field(default_factory=dict)
    #: record checks run beside the audit (:class:`privaudit.record_check.CheckResult`), e.g. the demo's worked check
    record_checks: list = field(default_factory=list)
    #: δ of every result's ε lower bound
    delta: float = DEFAULT_DELTA
    #: whether membership was declared randomised by fair coin flips (ε is then a valid one-run lower bound)
    membership_randomized: bool = False
    #: target name → what went over the wire to targets that count it (HTTP targets: requests, retries, records sent, cache hits, ...)
    api_calls: dict = field(default_factory=dict)
    #: target name → :class:`privaudit.metrics.grading.TargetClaim`: the family-wise corrected, graded verdict behind each report
    claims: dict = field(default_factory=dict)
    #: what the run trusted beyond the defaults (:func:`privaudit.trust.trust_summary`); {} from the Python API
    trust: dict = field(default_factory=dict)
    #: what a text audit adds (:class:`privaudit.text.section.TextSection`: texts, blind baseline, canaries, claim); None otherwise
    text: object = None

    def best(self, target: str | None = None) -> AttackResult:
        """The result with the highest AUC (for ``target`` if given)."""
        pool = [r for r in self.results if target is None or r.target == target]
        return max(pool, key=lambda r: r.metrics.auc)


#: ``membership_randomized`` is refused when a fair-coin split this uneven has a two-sided p-value below this.
RANDOMIZED_SPLIT_MIN_P = 1e-3


def check_membership_randomized(is_member, source: str = "<memory>") -> None:
    """Refuse a declared coin-flip membership whose member count is implausible for fair coins.

    Raises :class:`DataError` when a two-sided binomial test of
    n_members ~ Binomial(n_audited, 1/2) gives p < ``RANDOMIZED_SPLIT_MIN_P``
    (e.g. 1,000 members among 11,000 audited records): the one-run bound
    assumes every audited record was included with probability 1/2.
    """
    from scipy.stats import binomtest

    is_member = np.asarray(is_member, dtype=bool)
    n_members, n = int(is_member.sum()), int(is_member.size)
    p_value = binomtest(n_members, n, 0.5).pvalue
    if p_value < RANDOMIZED_SPLIT_MIN_P:
        raise DataError(
            f"{source}: membership is declared randomized (membership.randomized / membership_randomized), but {n_members:,} "
            f"members among {n:,} audited records is not what fair coin flips give (p = {p_value:.1e}); the one-run ε bound "
            "needs each audited record included with probability 1/2: set randomized: false, or audit the coin-flipped records only"
        )


def default_attacks(output_kind: str, has_population: bool, reference_mode: str | None = None, *, features=None) -> list:
    """Every threshold attack the target's outputs allow, class-wise LOSS when a population exists,
    and with reference models (``reference_mode`` "online"/"offline") LiRA, RMIA and calibrated loss in that mode.

    A label-only target gets ``correctness`` and, when ``features`` (the audited records' feature table, for a
    target that can answer perturbed copies) allow, the label-only query attacks
    (:func:`privaudit.attacks.label_only.label_only_attacks_for`)."""
    if output_kind == "labels":
        from privaudit.attacks.label_only import label_only_attacks_for

        return [ThresholdAttack(signal="correctness"), *label_only_attacks_for(features)]
    attacks = [ThresholdAttack(signal=name) for name in SIGNALS.names() if SIGNALS.get(name).needs == "probabilities"]
    if has_population:
        attacks.append(build_attack({"name": "classwise_threshold", "signal": "loss"}))
    if reference_mode is not None:
        attacks.append(build_attack({"name": "lira", "mode": reference_mode}))
        if has_population:
            attacks.append(build_attack({"name": "rmia", "mode": reference_mode}))
        attacks.append(build_attack({"name": "reference_calibrated_loss", "mode": reference_mode}))
    return attacks


def _plan_for(reference, target_name: str):
    if reference is None or not isinstance(reference, Mapping):
        return reference
    return reference.get(target_name)


def _api_calls(target) -> dict | None:
    """``target.query_stats()`` of a target that counts its queries (looking through wrappers such as output defences)."""
    while target is not None:
        stats = getattr(target, "query_stats", None)
        if callable(stats):
            return stats()
        target = getattr(target, "target", None)
    return None


def _versions() -> dict:
    from importlib import metadata

    versions = {"python": platform.python_version()}
    for package in ("privaudit", "numpy", "scipy", "scikit-learn", "pandas", "torch"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return versions


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
        Default: :func:`default_attacks` for each target.
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
        Called with a short message before each stage.
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
        are refused (:func:`check_membership_randomized`).
    """
    started = time.perf_counter()
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    say = progress or (lambda message: None)
    audited = data.records.subset(data.audited)
    is_member = data.audited_is_member
    if membership_randomized:
        check_membership_randomized(is_member, data.source)
    population = data.records.subset(data.population) if data.population.size else None
    results: list[AttackResult] = []
    summaries: list[TargetSummary] = []
    reference_info: dict = {}
    api_call_info: dict = {}
    for target in targets:
        plan = _plan_for(reference, target.name)
        if attacks:
            target_attacks = [build_attack(a) if isinstance(a, (str, dict)) else a for a in attacks]
        else:
            target_attacks = default_attacks(target.output_kind, population is not None, plan.mode if plan is not None else None,
                                             features=audited.features if answers_new_records(target) else None)
        reference_attacks = [a for a in target_attacks if getattr(a, "needs_reference", False)]
        # label-only query attacks: their signals come from perturbed copies (privaudit.query_signals), not from one query
        query_requests = {a.query_signal.key: a.query_signal for a in target_attacks if hasattr(a, "query_signal")}
        if query_requests:
            check_query_requests(target, audited, list(query_requests.values()))  # before any query is spent
        needed = sorted({s for a in target_attacks for s in a.required_signals if s not in query_requests} | {"correctness"})
        for attack in target_attacks:
            if attack.needs_population and population is None:
                raise DataError(f"attack '{attack.display_name}' needs population records (known non-members the attacker may use); add them to the membership column or a population file")
            for name in attack.required_signals:
                if target.output_kind == "labels" and name not in query_requests and SIGNALS.get(name).needs != "labels":
                    raise CapabilityError(f"attack '{attack.display_name}' needs probabilities, but target '{target.name}' gives only labels; use the 'correctness' attack "
                                          "or the label-only attacks label_only_augmentation and label_only_boundary")
        if reference_attacks and plan is None:
            names = ", ".join(a.display_name for a in reference_attacks)
            raise CapabilityError(f"attack(s) {names} need reference models, but target '{target.name}' has none configured; add a 'reference' block to the target (models, and for torch targets a training recipe)")
        say(f"querying {target.name} on {len(audited):,} audited records")
        signals = compute_signals(target, audited, needed)
        ledger = QueryLedger()
        ledger.add_outputs(len(audited))
        population_signals = None
        wants_population = any(a.needs_population or getattr(a, "needs_population_z", False) for a in target_attacks)
        if population is not None and (wants_population or reference_attacks):
            say(f"querying {target.name} on {len(population):,} population records")
            population_signals = compute_signals(target, population, needed)
            ledger.add_outputs(len(population))
        if query_requests:
            query_values, spent = compute_query_signals(target, audited, list(query_requests.values()), correct=signals["correctness"] > 0,
                                                        seed=seed, progress=say)
            signals.update(query_values)
            for key, spend in spent.items():
                ledger.add_queries(key, spend.queries, spend.calls)
        reference_signals = None
        if reference_attacks:
            from privaudit.reference.plan import reference_signals as build_reference_signals

            reference_names = sorted({s for a in reference_attacks for s in a.required_signals})
            say(f"{target.name}: {plan.n_models} reference models ({plan.mode}, store {plan.store})")
            reference_signals, engine, backend = build_reference_signals(
                plan, data, reference_names,
                target_population_signals={n: population_signals[n] for n in reference_names} if population_signals else None,
                seed=seed, progress=reference_training_progress(say, target.name),
            )
            reference_info[target.name] = {
                "n_models": plan.n_models, "mode": plan.mode, "backend": backend,
                "trained": engine.trained, "reused": engine.reused, "train_size": plan.train_size, "store": str(plan.store),
            }
        calls = _api_calls(target)
        if calls is not None:
            api_call_info[target.name] = calls
        correct = signals["correctness"]
        summaries.append(TargetSummary(target.name, target.output_kind, float(correct[is_member].mean()), float(correct[~is_member].mean()),
                                       queries=ledger.count()))
        for attack in target_attacks:
            say(f"{target.name}: {attack.display_name}")
            if getattr(attack, "needs_reference", False):
                scores = attack.fit(signals, audited.labels, reference_signals).score(signals, audited.labels, reference_signals)
            else:
                if attack.needs_population:
                    attack.fit(population_signals, population.labels)
                scores = attack.score(signals, audited.labels)
            metrics = evaluate_scores(scores, is_member, fprs=fprs, confidence=confidence, n_bootstrap=n_bootstrap, seed=seed,
                                      delta=delta, membership_randomized=membership_randomized, n_epsilon_candidates=len(target_attacks))
            results.append(AttackResult(target.name, attack.display_name, getattr(attack, "signal", None), scores, metrics))
    result = AuditResult(
        results=results,
        targets=summaries,
        record_ids=audited.ids,
        is_member=is_member,
        labels=audited.labels,
        classes=audited.classes,
        n_population=int(data.population.size),
        seed=seed,
        fprs=tuple(float(f) for f in fprs),
        confidence=confidence,
        data_source=data.source,
        started_at=started_at,
        duration_s=time.perf_counter() - started,
        versions=_versions(),
        reference=reference_info,
        delta=float(delta),
        membership_randomized=bool(membership_randomized),
        api_calls=api_call_info,
        claims=audit_claims(results, is_member, confidence=confidence, seed=seed),
    )
    if groups:
        from privaudit.metrics.groups import analyse_groups

        say(f"slicing by {', '.join(groups)}")
        result.groups = analyse_groups(result, groups, n_bootstrap=n_bootstrap)
        result.duration_s = time.perf_counter() - started
    return result


def run_audit(config, base_dir: str | Path = ".", *, progress: Callable[[str], None] | None = None) -> AuditResult:
    """Load data and targets that a validated :class:`~privaudit.config.AuditConfig` names, and audit them."""
    from privaudit.config import config_hash
    from privaudit.data import load_audit_data
    from privaudit.redaction import redact_config
    from privaudit.targets import load_target

    if any(t.type == "causal_lm" for t in config.targets):  # a text audit (privaudit.text.config_audit)
        from privaudit.text.config_audit import run_text_audit

        return run_text_audit(config, base_dir, progress=progress)
    base_dir = Path(base_dir)
    d = config.data
    m = d.membership
    resolve = lambda p: None if p is None else base_dir / p  # noqa: E731
    needs_features = any(t.type != "precomputed" for t in config.targets)
    data = load_audit_data(
        base_dir / d.path,
        label=d.label,
        id_column=d.id_column,
        features=d.features,
        membership_column=m.column,
        members_file=resolve(m.members),
        nonmembers_file=resolve(m.nonmembers),
        population_file=resolve(m.population),
        classes=d.classes,
        require_features=needs_features,
    )
    from privaudit.reference.plan import plans_from_config

    targets = [load_target(t.model_dump(), base_dir, t.name, trust_code=config.trust_code) for t in config.targets]
    plans = plans_from_config(config, base_dir)
    groups = None
    if config.groups:
        from privaudit.data import read_table
        from privaudit.metrics.groups import labels_from_specs

        groups = labels_from_specs([g.model_dump() for g in config.groups], data, read_table=lambda: read_table(base_dir / d.path))
    result = audit(
        data,
        targets,
        config.attacks,
        fprs=config.metrics.fprs,
        n_bootstrap=config.metrics.bootstrap,
        confidence=config.metrics.confidence,
        seed=config.seed,
        reference=plans or None,
        progress=progress,
        groups=groups,
        delta=config.metrics.delta,
        membership_randomized=m.randomized,
    )
    result.config = redact_config(config.model_dump(mode="json"))  # no URL user-info or query values in any report
    result.config_hash = config_hash(config)
    from privaudit.trust import trust_summary

    result.trust = trust_summary(config)
    return result
