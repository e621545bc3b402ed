"""privaudit: was this data used to train this model?

Membership inference audits with honest statistics. Data flows one way::

    data → target → signals → attacks → metrics → pipeline → report

``import privaudit`` imports neither torch, transformers, ray nor httpx.
"""

from privaudit._version import __version__
from privaudit.attacks import ATTACKS, ClasswiseThresholdAttack, ThresholdAttack, build_attack
from privaudit.pipeline import AttackResult, AuditResult, audit, audit_outputs, run_audit
from privaudit.config import AuditConfig, load_config
from privaudit.data import AuditData, RecordSet, audit_data_from_frame, load_audit_data
from privaudit.datasets import load_adult, load_rand_hie, make_synthetic_tabular
from privaudit.exceptions import (
    CapabilityError,
    ConfigError,
    DataError,
    IntegrityError,
    LimitExceededError,
    MissingDependencyError,
    NotFittedError,
    OutputError,
    PrivauditError,
    TargetError,
    UnknownNameError,
    UntrustedCodeError,
)
from privaudit.metrics import evaluate_scores, roc_auc, roc_curve, tpr_at_fpr
from privaudit.record_check import CheckResult, check_records, run_check
from privaudit.signals import SIGNALS, compute_signals
from privaudit.targets import HTTPTarget, OutputDefence, OutputDefenceTarget, PrecomputedTarget, SklearnTarget, TorchTarget

__all__ = [
    "__version__",
    "ATTACKS",
    "SIGNALS",
    "AttackResult",
    "AuditConfig",
    "AuditData",
    "AuditResult",
    "CapabilityError",
    "CheckResult",
    "ClasswiseThresholdAttack",
    "ConfigError",
    "DataError",
    "HTTPTarget",
    "IntegrityError",
    "LimitExceededError",
    "MissingDependencyError",
    "NotFittedError",
    "OutputDefence",
    "OutputDefenceTarget",
    "OutputError",
    "PrecomputedTarget",
    "PrivauditError",
    "RecordSet",
    "SklearnTarget",
    "TargetError",
    "ThresholdAttack",
    "TorchTarget",
    "UnknownNameError",
    "UntrustedCodeError",
    "audit",
    "audit_data_from_frame",
    "audit_outputs",
    "build_attack",
    "check_records",
    "compute_signals",
    "evaluate_scores",
    "load_adult",
    "load_audit_data",
    "load_config",
    "load_rand_hie",
    "make_synthetic_tabular",
    "roc_auc",
    "roc_curve",
    "run_audit",
    "run_check",
    "tpr_at_fpr",
]


#: submodules reachable as attributes after a plain ``import privaudit`` (imported on first use)
_LAZY_SUBMODULES = ("report",)


def __getattr__(name: str):
    """``privaudit.report`` (and other lazy submodules) on first attribute access, so ``import privaudit`` stays light."""
    if name in _LAZY_SUBMODULES:
        import importlib

        return importlib.import_module(f"privaudit.{name}")
    raise AttributeError(f"module 'privaudit' has no attribute {name!r}")
