"""What an audit returns: :class:`AttackResult` per (target, attack), :class:`TargetSummary` per target, and
:class:`AuditResult` — the one result type of tabular and text audits (a text audit fills ``text``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from privaudit.metrics import DEFAULT_DELTA, ScoreMetrics

if TYPE_CHECKING:  # the text section lives beside the text attacks; nothing here needs it at run time
    from privaudit.text.section import TextSection

__all__ = ["AttackResult", "TargetSummary", "AuditResult"]


@dataclass(frozen=True)
class AttackResult:
    """One (target, attack) pair: per-record scores over the audited records (higher = more member-like) and their metrics."""

    target: str
    attack: str
    signal: str | None
    scores: np.ndarray
    metrics: ScoreMetrics


@dataclass(frozen=True)
class TargetSummary:
    """What the audit saw of a target: its output kind, accuracy on members vs non-members, and the queries it answered.

    A text audit's target reads ``output_kind="token_log_probs"`` with NaN accuracies.
    """

    name: str
    output_kind: str
    accuracy_members: float
    accuracy_nonmembers: float
    #: records the target was asked about in this audit, plain and perturbed (:class:`privaudit.query_signals.QueryCount`)
    queries: object = None


@dataclass
class AuditResult:
    """Everything a report renders. ``record_ids``/``is_member``/``labels`` align with every ``scores`` array.

    A text audit (:func:`privaudit.pipeline.text_audit.audit_text`) returns the same type with ``text`` set
    (:class:`~privaudit.text.section.TextSection`), ``labels`` all 0, ``classes=()``,
    ``n_population=0`` and ``claims={}`` (its corrected claim is ``text.claim``).
    """

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
    #: the text-only part of a text audit (blind baseline, canaries, text claim); None for a tabular audit
    text: TextSection | None = None
    #: target name → :class:`privaudit.pipeline.person_roc.PersonROC` (data with a person column): member vs non-member persons
    persons: dict = field(default_factory=dict)

    def best(self, target: str | None = None) -> AttackResult:
        """The result with the highest AUC (for ``target`` if given; an unknown target raises :class:`~privaudit.exceptions.UnknownNameError`)."""
        pool = [r for r in self.results if target is None or r.target == target]
        if not pool:
            from privaudit.exceptions import UnknownNameError

            names = ", ".join(dict.fromkeys(r.target for r in self.results)) or "none"
            raise UnknownNameError(f"no target '{target}' in this result; targets: {names}")
        return max(pool, key=lambda r: r.metrics.auc)

    @property
    def verdict(self) -> dict[str, str]:
        """Target name → its graded, family-wise corrected verdict in plain sentences (:func:`privaudit.report.verdict.verdict`).

        A text audit gives its corrected claim's sentence (:class:`privaudit.text.verdict.TextClaim`).
        """
        if self.text is not None and self.text.claim is not None:
            return {summary.name: self.text.claim.sentence for summary in self.targets}
        from privaudit.report.verdict import verdict  # the report stage renders; imported on use, as it imports this module

        return {name: verdict(self, name) for name in dict.fromkeys(r.target for r in self.results)}

    def write_report(self, folder, *, show_records: bool = False, force: bool = False) -> dict:
        """Write report.json, scores.csv, report.html and claims.md into ``folder`` as the CLI does (:func:`privaudit.report.write_report`); returns the paths."""
        from privaudit.report import write_report

        return write_report(self, folder, show_records=show_records, force=force)
