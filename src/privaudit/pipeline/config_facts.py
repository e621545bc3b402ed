"""What every run from a config adds to its result, tabular and text alike."""

from __future__ import annotations

from pathlib import Path

from privaudit.pipeline.result import AuditResult

__all__ = ["with_config_facts"]


def with_config_facts(result: AuditResult, config, base_dir: str | Path) -> AuditResult:
    """What every run from a config adds to its result (tabular and text alike): the redacted config, its hash, what it trusted,
    and paths made relative to the config's folder. Returns ``result``."""
    from privaudit.config import config_hash
    from privaudit.redaction import redact_config
    from privaudit.shared_paths import shareable_result
    from privaudit.trust import trust_summary

    result.config = redact_config(config.model_dump(mode="json"))  # no URL user-info or query values in any report
    result.config_hash = config_hash(config)
    result.trust = trust_summary(config)
    shareable_result(result, base_dir)  # paths relative to the config, no absolute local path in any report
    return result
