"""Run a text audit from a validated config: texts from a file, a ``causal_lm`` target (and reference), canaries.

:func:`run_text_audit` is what ``privaudit audit`` calls for a config whose
target is a language model (:mod:`privaudit.targets.causal_lm`); the demo
(``privaudit demo --llm``) and ``privaudit text-audit`` write such a config
and run it the same way. The result is an :class:`~privaudit.pipeline.AuditResult`
whose ``text`` (:class:`~privaudit.text.section.TextSection`) holds what only
a text audit has.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable


from privaudit.pipeline.result import AuditResult

__all__ = ["run_text_audit"]

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
    import time

    from privaudit.config import config_hash
    from privaudit.redaction import redact_config
    from privaudit.targets.causal_lm import load_causal_lm_targets
    from privaudit.text.audit import audit_canaries, audit_text
    from privaudit.text.data import load_text_data, read_canaries
    from privaudit.trust import trust_summary

    started = time.perf_counter()
    base_dir = Path(base_dir)
    d, m, spec = config.data, config.data.membership, config.targets[0]
    resolve = lambda p: None if p is None else base_dir / p  # noqa: E731
    data = data if data is not None else load_text_data(base_dir / d.path, text_column=d.text_column or "text", id_column=d.id_column, membership_column=m.column,
                          members_file=resolve(m.members), nonmembers_file=resolve(m.nonmembers))
    canaries = None if spec.canaries is None else read_canaries(base_dir / spec.canaries.path)
    say = progress or (lambda message: None)
    say(f"loading language model {spec.name}" + (" and its reference" if spec.reference else ""))
    target, reference = load_causal_lm_targets(spec, base_dir)
    result = audit_text(target, data.members, data.nonmembers, attacks=config.attacks, reference=reference, fprs=config.metrics.fprs,
                             n_bootstrap=config.metrics.bootstrap, confidence=config.metrics.confidence, seed=config.seed,
                             delta=config.metrics.delta, membership_randomized=m.randomized, record_ids=data.record_ids, progress=progress)
    if canaries is not None:
        c = spec.canaries
        result.text.canaries = audit_canaries(target, canaries[0], canaries[1], repetitions=c.repetitions, n_candidates=c.n_candidates,
                                              alphabet=c.alphabet, seed=config.seed, delta=result.delta,
                                              confidence=config.metrics.confidence, extrapolate=c.extrapolate, progress=progress)
    result.data_source = d.path  # as the config names it, relative to the config: no local absolute path in a shared report
    result.duration_s = time.perf_counter() - started
    result.config = redact_config(config.model_dump(mode="json"))
    result.config_hash = config_hash(config)
    result.trust = trust_summary(config)
    return result
