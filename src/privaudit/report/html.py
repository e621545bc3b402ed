"""The person-facing report: one self-contained HTML page.

Everything the page needs is inside it — inline CSS, plots as inline SVG, no
scripts, fonts or links to fetch — so it opens offline and can be mailed as
one file. The template is ``templates/report.html.j2`` (autoescaped).
"""

from __future__ import annotations

import numpy as np

from privaudit.pipeline import AuditResult
from privaudit.metrics import MIN_EXPECTED_FALSE_POSITIVES
from privaudit.report import formatting
from privaudit.report.group_section import group_context
from privaudit.report.jinja_environment import template_environment
from privaudit.report.text_section import text_html_context
from privaudit.report.plots import CLIP_FENCE_IQR, CLIP_PERCENTILES, ROC_LIMIT, histogram_svg, roc_svg
from privaudit.report.verdict import badge, grade, report_notes, show_epsilon, verdict
from privaudit.shared_paths import shareable_config, shareable_path

#: the page every report links to: what each claim means, its test, error rate and assumptions (``docs/claims.md``)
CLAIMS_FILE = "claims.md"

__all__ = ["CLAIMS_FILE", "render_html", "html_context", "N_SHOWN_RECORDS"]

#: Records listed in the "most exposed records" table when ``show_records`` is on.
N_SHOWN_RECORDS = 20

def _config_text(config) -> str | None:
    if config is None:
        return None
    import yaml

    config = formatting.without_nulls(shareable_config(config))
    return yaml.safe_dump(config, sort_keys=False, allow_unicode=True, default_flow_style=False).rstrip()


def _result_rows(pool, fprs) -> list[dict]:
    rows = []
    for r in pool:
        m = r.metrics
        cells = []
        for fpr in fprs:
            op = m.operating_points.get(fpr)
            cells.append(None if op is None else {
                "supported": op.supported, "tpr": op.tpr, "ci": op.ci, "fpr_realised": op.fpr_realised,
                "true_positives": op.true_positives, "false_positives": op.false_positives,
            })
        rows.append({
            "attack": r.attack, "signal": r.signal or "—", "auc": m.auc, "auc_ci": m.auc_ci,
            "advantage": m.advantage, "balanced_accuracy": m.balanced_accuracy, "cells": cells,
            "epsilon": None if m.epsilon_lower_bound is None else {
                "value": formatting.epsilon_value(m.epsilon_lower_bound.epsilon_lb), "label": m.epsilon_lower_bound.label,
                "valid": m.epsilon_lower_bound.valid,
            },
        })
    return rows


def _person_section(roc, fprs) -> dict:
    """The "Persons" section of one target: its person-level ROC (:class:`privaudit.pipeline.person_roc.PersonROC`) as a table row."""
    from types import SimpleNamespace

    from privaudit.pipeline.person_roc import PERSON_STATISTIC

    row = _result_rows([SimpleNamespace(attack=roc.attack, signal=None, metrics=roc.metrics)], fprs)[0]
    sizes = ", ".join(f"{k} record{'s' if int(k) != 1 else ''}: {m:,} / {n:,}" for k, (m, n) in sorted(roc.sizes.items()))
    return {"attack": roc.attack, "statistic": PERSON_STATISTIC, "n_member_persons": roc.n_member_persons,
            "n_nonmember_persons": roc.n_nonmember_persons, "row": row, "sizes": sizes,
            "chosen_from": roc.chosen_from, "interval_confidence": f"{100 * roc.interval_confidence:.4g} %"}


def _epsilon_note(result: AuditResult) -> str | None:
    """The ε column's footnote, or None when the page shows no ε (none computed, or only heuristic estimates)."""
    entries = [r.metrics.epsilon_lower_bound for r in result.results if r.metrics.epsilon_lower_bound is not None]
    if not entries or not show_epsilon(result):
        return None
    return formatting.epsilon_note(entries[0].valid, entries[0].delta, entries[0].confidence)


def _auc_interval_label(result: AuditResult) -> str:
    """How the AUC intervals were computed, for the table footnote."""
    methods = {r.metrics.auc_ci_method for r in result.results}
    n_bootstrap = result.results[0].metrics.n_bootstrap if result.results else 0
    delong = "DeLong's normal interval (O(n log n); from 50,000 members and non-members each)"
    if methods <= {"bootstrap"}:
        return f"stratified bootstrap ({formatting.count(n_bootstrap)} replicates)"
    if methods <= {"delong"}:
        return delong
    parts = [f"stratified bootstrap ({formatting.count(n_bootstrap)} replicates)"] if "bootstrap" in methods else []
    parts += [delong] if "delong" in methods else []
    if "hoeffding" not in methods:
        return "; ".join(parts)
    return ("Hoeffding's distribution-free interval (fewer records than a verdict needs, where a bootstrap is meaningless, "
            "or complete separation, where the others have zero width)"
            + (f", elsewhere {'; '.join(parts)}" if parts else ""))


def _exposed_records(result: AuditResult, best) -> list[dict]:
    """The records the best attack scores highest (what an attacker would flag first)."""
    order = np.argsort(-np.asarray(best.scores, dtype=np.float64), kind="stable")[:N_SHOWN_RECORDS]
    classes = list(result.classes)
    return [
        {"rank": rank + 1, "record_id": str(result.record_ids[i]), "member": bool(result.is_member[i]),
         "label": classes[int(result.labels[i])] if classes else "", "score": float(best.scores[i])}
        for rank, i in enumerate(order)
    ]


def _record_checks(result: AuditResult) -> list[dict]:
    from privaudit.report.check_report import check_context

    truth = {str(rid): bool(m) for rid, m in zip(result.record_ids, result.is_member, strict=True)}
    return [check_context(check, truth={r.record_id: truth[r.record_id] for r in check.records if r.record_id in truth} or None)
            for check in result.record_checks]


def html_context(result: AuditResult, *, show_records: bool = False) -> dict:
    """Everything the template shows, as plain values and ready SVG markup.

    Parameters
    ----------
    result : AuditResult
    show_records : bool
        Also list, per target, the ``N_SHOWN_RECORDS`` records with the highest
        best-attack score, with their ids. Off by default: record ids on a page
        meant to be shared can themselves be sensitive.
    """
    from markupsafe import Markup

    is_member = np.asarray(result.is_member, dtype=bool)
    n_nonmembers = int((~is_member).sum())
    fprs = list(result.fprs)
    sections = []
    for index, target in enumerate(result.targets):
        pool = [r for r in result.results if r.target == target.name]
        if not pool:
            continue
        best = result.best(target.name)
        hist, clipping = histogram_svg(best, is_member, plot_id=f"hist-{index}", title=f"{target.name}: {best.attack}")
        sections.append({
            "anchor": f"target-{index}",
            "name": target.name,
            "n_attacks": len(pool),
            "best": best.attack,
            "roc": Markup(roc_svg(pool, is_member, plot_id=f"roc-{index}", title=f"{target.name}: every attack")),
            "histogram": Markup(hist),
            "clipping": clipping,
            "rows": _result_rows(pool, fprs),
            "records": _exposed_records(result, best) if show_records else None,
            "groups": group_context(result.groups[target.name], overall_auc=best.metrics.auc, fprs=fprs, confidence=result.confidence,
                                    show_records=show_records, plot_prefix=f"groups-{index}") if target.name in result.groups else None,
            "persons": _person_section(result.persons[target.name], fprs) if target.name in getattr(result, "persons", {}) else None,
        })
    n_members = int(is_member.sum())
    return {
        "title": "privaudit membership-inference report",
        "targets_label": ", ".join(t.name for t in result.targets),
        "run": {
            "started_at": result.started_at or "—", "duration_s": result.duration_s, "seed": result.seed,
            "config_hash": result.config_hash, "data_source": shareable_path(result.data_source),
            "trust": _trust_text(getattr(result, "trust", None)),
        },
        "claims_file": CLAIMS_FILE,
        "data": {"n_members": n_members, "n_nonmembers": n_nonmembers, "n_population": result.n_population,
                 "classes": ", ".join(map(str, result.classes))},
        "verdicts": [_verdict_box(result, t.name) for t in result.targets if any(r.target == t.name for r in result.results)],
        "targets": [
            {"name": t.name, "output_kind": t.output_kind, "accuracy_members": t.accuracy_members,
             "accuracy_nonmembers": t.accuracy_nonmembers, "gap": t.accuracy_members - t.accuracy_nonmembers,
             "queries": formatting.queries_text(getattr(t, "queries", None))}
            for t in result.targets
        ],
        "fprs": [{"value": f, "needed": formatting.min_nonmembers(f, MIN_EXPECTED_FALSE_POSITIVES)} for f in fprs],
        "any_unsupported": any(n_nonmembers * f < MIN_EXPECTED_FALSE_POSITIVES for f in fprs),
        "min_expected_fp": MIN_EXPECTED_FALSE_POSITIVES,
        "confidence": formatting.confidence_label(result.confidence),
        "n_bootstrap": result.results[0].metrics.n_bootstrap if result.results else 0,
        "auc_interval": _auc_interval_label(result),
        "roc_limit": ROC_LIMIT,
        "clip_rule": f"their {CLIP_PERCENTILES[0]:g}–{CLIP_PERCENTILES[1]:g} percentile range, narrowed to at most "
                     f"{CLIP_FENCE_IQR:g} interquartile ranges beyond the quartiles",
        "sections": sections,
        "record_checks": _record_checks(result),
        "notes": report_notes(result),
        "config_text": _config_text(result.config),
        "versions": dict(result.versions),
        "show_records": show_records,
        "epsilon_note": _epsilon_note(result),
        "text": text_html_context(result),
    }


def _verdict_box(result: AuditResult, target_name: str) -> dict:
    """The verdict box of one target: its text, claim status and the badge that follows the grade."""
    status = grade(result, target_name)
    text, css = badge(status)
    return {"target": target_name, "text": verdict(result, target_name), "status": status, "badge": text, "css": css}


def _trust_text(trust: dict | None) -> str | None:
    """One line for the run section naming what the run trusted beyond the defaults, or None."""
    if not trust:
        return None
    parts = []
    for key, label in (("factories", "code"), ("pickles", "pickled models"), ("trusted_types", "skops types")):
        entries = trust.get(key) or {}
        if entries:
            parts.append(f"{label} " + "; ".join(f"{name}: {', '.join(v) if isinstance(v, (list, tuple)) else v}" for name, v in entries.items()))
    if not parts and not trust.get("trust_code"):
        return None
    return "Trusted beyond the defaults: " + (" · ".join(parts) if parts else "trust_code was on, but nothing outside the defaults was loaded") + "."


def render_html(result: AuditResult, *, show_records: bool = False) -> str:
    """The report as one self-contained HTML page (no external CSS, JS, fonts or images).

    Parameters
    ----------
    result : AuditResult
    show_records : bool
        See :func:`html_context`.

    Returns
    -------
    str
        The page. It holds, per target, two ``<svg class="plot">`` elements:
        the ROC of every attack on log-log axes, and member vs non-member
        score histograms of the best attack; when the audit was sliced by
        groups, one more per slicing (AUC per group with intervals).
    """
    return template_environment().get_template("report.html.j2").render(**html_context(result, show_records=show_records))
