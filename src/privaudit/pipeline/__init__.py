"""The pipeline stage: wire data → targets → signals → attacks → metrics into an :class:`~privaudit.audit.AuditResult`.

:func:`audit_outputs` audits plain arrays of a model's outputs (TF Privacy style).
"""

from __future__ import annotations

from privaudit.pipeline.arrays import audit_outputs

__all__ = ["audit_outputs"]
