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
from typing import Callable, Sequence

import numpy as np

from privaudit.attacks import ThresholdAttack, build_attack
from privaudit.data import AuditData
from privaudit.exceptions import CapabilityError, DataError
from privaudit.metrics import DEFAULT_FPRS, ScoreMetrics, evaluate_scores
from privaudit.signals import SIGNALS, compute_signals

__all__ = ["AttackResult", "TargetSummary", "AuditResult", "audit", "run_audit", "default_attacks"]


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
    """What the audit saw of a target: its output kind and accuracy on members vs non-members."""

    name: str
    output_kind: str
    accuracy_members: float
    accuracy_nonmembers: float


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

    def best(self, target: str | None = None) -> AttackResult:
        """The result with the highest AUC (for ``target`` if given)."""
        pool = [r for r in self.results if target is None or r.target == target]
        return max(pool, key=lambda r: r.metrics.auc)


def default_attacks(output_kind: str, has_population: bool) -> list:
    """Every threshold attack the target's outputs allow, plus class-wise LOSS when a population exists."""
    if output_kind == "labels":
        return [ThresholdAttack(signal="correctness")]
    attacks = [ThresholdAttack(signal=name) for name in SIGNALS.names() if SIGNALS.get(name).needs == "probabilities"]
    if has_population:
        attacks.append(build_attack({"name": "classwise_threshold", "signal": "loss"}))
    return attacks


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
    progress: Callable[[str], None] | None = None,
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
    progress : callable, optional
        Called with a short message before each stage.
    """
    started = time.perf_counter()
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    say = progress or (lambda message: None)
    audited = data.records.subset(data.audited)
    is_member = data.audited_is_member
    population = data.records.subset(data.population) if data.population.size else None
    results: list[AttackResult] = []
    summaries: list[TargetSummary] = []
    for target in targets:
        target_attacks = [build_attack(a) if isinstance(a, (str, dict)) else a for a in attacks] if attacks else default_attacks(target.output_kind, population is not None)
        needed = sorted({s for a in target_attacks for s in a.required_signals} | {"correctness"})
        for attack in target_attacks:
            if attack.needs_population and population is None:
                raise DataError(f"attack '{attack.display_name}' needs population records (known non-members the attacker may use); add them to the membership column or a population file")
            for name in attack.required_signals:
                if target.output_kind == "labels" and SIGNALS.get(name).needs != "labels":
                    raise CapabilityError(f"attack '{attack.display_name}' needs probabilities, but target '{target.name}' gives only labels; use the 'correctness' attack")
        say(f"querying {target.name} on {len(audited):,} audited records")
        signals = compute_signals(target, audited, needed)
        population_signals = None
        if population is not None and any(a.needs_population for a in target_attacks):
            say(f"querying {target.name} on {len(population):,} population records")
            population_signals = compute_signals(target, population, needed)
        correct = signals["correctness"]
        summaries.append(TargetSummary(target.name, target.output_kind, float(correct[is_member].mean()), float(correct[~is_member].mean())))
        for attack in target_attacks:
            say(f"{target.name}: {attack.display_name}")
            if attack.needs_population:
                attack.fit(population_signals, population.labels)
            scores = attack.score(signals, audited.labels)
            metrics = evaluate_scores(scores, is_member, fprs=fprs, confidence=confidence, n_bootstrap=n_bootstrap, seed=seed)
            results.append(AttackResult(target.name, attack.display_name, getattr(attack, "signal", None), scores, metrics))
    return AuditResult(
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
    )


def run_audit(config, base_dir: str | Path = ".", *, progress: Callable[[str], None] | None = None) -> AuditResult:
    """Load data and targets that a validated :class:`~privaudit.config.AuditConfig` names, and audit them."""
    from privaudit.config import config_hash
    from privaudit.data import load_audit_data
    from privaudit.targets import load_target

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
    targets = [load_target(t.model_dump(), base_dir, t.name) for t in config.targets]
    result = audit(
        data,
        targets,
        config.attacks,
        fprs=config.metrics.fprs,
        n_bootstrap=config.metrics.bootstrap,
        confidence=config.metrics.confidence,
        seed=config.seed,
        progress=progress,
    )
    result.config = config.model_dump(mode="json")
    result.config_hash = config_hash(config)
    return result
