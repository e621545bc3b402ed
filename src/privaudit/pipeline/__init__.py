"""The one wiring every entry point goes through: load inputs → targets → collect signals → score → evaluate → result.

* :mod:`~privaudit.pipeline.inputs` — :func:`load_inputs` from a validated config (data, targets, reference plans, groups);
* :mod:`~privaudit.pipeline.collect` — the one place that queries targets (:func:`collect`, :func:`collect_text`),
  driven by each attack's declared :class:`~privaudit.attacks.needs.AttackNeeds`;
* :mod:`~privaudit.pipeline.score` — the one fit/score dispatch (:func:`score_attack`);
* :mod:`~privaudit.pipeline.evaluate` — metrics per attack and the corrected claims;
* :mod:`~privaudit.pipeline.result` — :class:`AuditResult` (tabular and text audits), :class:`AttackResult`, :class:`TargetSummary`;
* :mod:`~privaudit.pipeline.audit_steps` — :func:`audit` and :func:`run_audit`;
* :mod:`~privaudit.pipeline.arrays` — :func:`audit_outputs`: plain arrays of a model's outputs in, an :class:`AuditResult` out (TF Privacy style).

``privaudit.audit`` is the function :func:`audit` (there is no module of that name).
"""

from __future__ import annotations

from privaudit.pipeline.arrays import audit_outputs
from privaudit.pipeline.attack_choice import build_attacks, default_attacks, strongest_check_attack
from privaudit.pipeline.audit_steps import audit, run_audit
from privaudit.pipeline.collect import Collected, api_call_counts, check_needs, collect, collect_text
from privaudit.pipeline.environment import package_versions
from privaudit.pipeline.evaluate import MetricSettings, corrected_claims, evaluate_attacks
from privaudit.pipeline.inputs import RANDOMIZED_SPLIT_MIN_P, AuditInputs, check_membership_randomized, load_data, load_inputs
from privaudit.pipeline.result import AttackResult, AuditResult, TargetSummary
from privaudit.pipeline.score import Scored, score_attack, score_attacks, score_parts

__all__ = [
    "audit", "run_audit", "audit_outputs", "AuditResult", "AttackResult", "TargetSummary", "AuditInputs", "load_inputs", "load_data",
    "check_membership_randomized", "RANDOMIZED_SPLIT_MIN_P", "Collected", "collect", "collect_text", "check_needs", "api_call_counts",
    "Scored", "score_attack", "score_attacks", "score_parts", "MetricSettings", "evaluate_attacks", "corrected_claims", "package_versions",
    "default_attacks", "strongest_check_attack", "build_attacks",
]
