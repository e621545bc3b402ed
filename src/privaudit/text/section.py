"""What a text audit adds to an :class:`~privaudit.pipeline.AuditResult` (rendered by privaudit.report like groups are)."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["TextSection"]


@dataclass
class TextSection:
    """The text-only part of a text audit's result; ``texts`` align with ``AuditResult.record_ids``."""

    texts: list
    #: privaudit.text.blind.BlindBaseline, or None when the blind baseline was not run
    blind: object = None
    #: the distribution-shift warning (privaudit.text.blind.distribution_shift_warning), or None
    warning: str | None = None
    #: name of the reference language model, or None
    reference: str | None = None
    #: privaudit.text.canary_audit.CanaryAudit, or None
    canaries: object = None
    #: the corrected claim over the text attacks (privaudit.text.verdict.TextClaim)
    claim: object = None
    #: query key → scoring statistics (texts, tokens, padding fraction, seconds)
    queries: dict = field(default_factory=dict)
    #: free-form facts a caller adds (the demo: corpus, fine-tuning settings and timings)
    setup: dict = field(default_factory=dict)

    def beats_blind_baseline(self, result) -> bool | None:
        """True when the attack's AUC interval lies wholly above the blind baseline's (None without a baseline)."""
        if self.blind is None:
            return None
        return bool(result.metrics.auc_ci[0] > self.blind.metrics.auc_ci[1])
