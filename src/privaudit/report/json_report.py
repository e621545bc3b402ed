"""Machine-readable outputs: ``report.json`` and ``scores.csv``.

The layout of both is documented field by field in ``docs/report-schema.md``.
JSON is strict: non-finite numbers become ``null`` and ``allow_nan=False``
guards the writer, so any JSON parser reads the file.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from privaudit.pipeline import AuditResult
from privaudit.csv_output import csv_bytes
from privaudit.output_folder import write_file_atomic
from privaudit.redaction import redact_config
from privaudit.report.json_values import strict_json_value
from privaudit.shared_paths import shareable_config, shareable_path
from privaudit.report.text_section import text_report_section, text_score_columns
from privaudit.report.verdict import claim_for, report_notes, verdict

__all__ = ["SCHEMA_VERSION", "report_dict", "json_bytes", "write_json", "scores_table", "scores_csv_bytes", "write_scores_csv",
           "strict_json_value"]

#: 1.1 added the optional ``text`` key (text audits); 1.2 the optional ``persons`` key (data with a person column);
#: every 1.0 field is unchanged
SCHEMA_VERSION = "1.2"


def report_dict(result: AuditResult) -> dict:
    """The ``report.json`` document (schema ``1.2``) for an audit result.

    Parameters
    ----------
    result : AuditResult

    Returns
    -------
    dict
        Keys ``schema_version``, ``run``, ``data``, ``targets``, ``results``,
        ``verdicts``, ``claims`` (per target, the corrected and graded claim behind its verdict) and ``notes``, ``groups`` when the audit was sliced by groups, ``persons`` (person-level ROC) when the data has a person column and ``text`` for a text audit; JSON-ready and strict (no NaN/inf). Per
        result, ``tpr_at_fpr`` is keyed by the target FPR as a string
        (``"0.1"``, ``"0.01"``, ...). See ``docs/report-schema.md``.
    """
    is_member = np.asarray(result.is_member, dtype=bool)
    document = {
        "schema_version": SCHEMA_VERSION,
        "run": {
            "seed": result.seed,
            "config_hash": result.config_hash,
            "config": shareable_config(redact_config(result.config)),
            "versions": dict(result.versions),
            "started_at": result.started_at,
            "duration_s": result.duration_s,
            "data_source": shareable_path(result.data_source),
            "reference": {name: {**info, "store": shareable_path(info["store"])} if "store" in info else dict(info) for name, info in result.reference.items()},
        },
        "data": {
            "n_members": int(is_member.sum()),
            "n_nonmembers": int((~is_member).sum()),
            "n_population": result.n_population,
            "classes": list(result.classes),
            "membership_randomized": bool(result.membership_randomized),
        },
        "targets": [
            {
                "name": t.name,
                "output_kind": t.output_kind,
                "accuracy_members": t.accuracy_members,
                "accuracy_nonmembers": t.accuracy_nonmembers,
                "queries": t.queries.to_dict() if getattr(t, "queries", None) is not None else None,
            }
            for t in result.targets
        ],
        "results": [
            {"target": r.target, "attack": r.attack, "signal": r.signal, **r.metrics.to_dict()} for r in result.results
        ],
        "verdicts": {t.name: verdict(result, t.name) for t in result.targets if any(r.target == t.name for r in result.results)},
        # a text audit's claim is text.claim (a different test), not a per-target graded claim
        "claims": {} if result.text is not None else {t.name: claim_for(result, t.name).to_dict() for t in result.targets
                                                      if any(r.target == t.name for r in result.results)},
        "notes": report_notes(result),
    }
    if getattr(result, "api_calls", None):
        document["run"]["api_calls"] = dict(result.api_calls)
    if getattr(result, "trust", None):
        document["run"]["trust"] = dict(result.trust)
    if result.groups:
        document["groups"] = {name: analysis.to_dict() for name, analysis in result.groups.items()}
    if result.text is not None:
        document["text"] = text_report_section(result)
    if getattr(result, "persons", None):
        document["persons"] = {name: roc.to_dict() for name, roc in result.persons.items()}
    if result.record_checks:
        from privaudit.report.check_report import check_result_to_dict

        document["record_checks"] = [check_result_to_dict(check) for check in result.record_checks]
    return strict_json_value(document)


def json_bytes(result: AuditResult) -> bytes:
    """:func:`report_dict` as ``report.json``'s bytes (UTF-8, indent 2, strict JSON)."""
    return (json.dumps(report_dict(result), indent=2, allow_nan=False, ensure_ascii=False) + "\n").encode("utf-8")


def write_json(result: AuditResult, path: str | Path) -> Path:
    """Write :func:`report_dict` to ``path`` atomically (UTF-8, indent 2, strict JSON)."""
    return write_file_atomic(path, json_bytes(result))


def scores_table(result: AuditResult) -> pd.DataFrame:
    """One row per audited record: ``record_id``, ``membership``, ``label``, then one ``<target>/<attack>`` score column each.

    A text audit has no ``label`` column and two more at the end: ``blind_baseline`` (when run) and ``text``.

    Scores are as the attacks gave them (higher = more likely a member). No
    features are included.
    """
    is_member = np.asarray(result.is_member, dtype=bool)
    classes = np.asarray(result.classes, dtype=object)
    columns = {
        "record_id": np.asarray(result.record_ids).astype(str),
        "membership": np.where(is_member, "member", "nonmember"),
    }
    if classes.size:  # a text audit has no labels
        columns["label"] = classes[np.asarray(result.labels, dtype=np.intp)]
    for r in result.results:
        name = f"{r.target}/{r.attack}"
        unique, n = name, 2
        while unique in columns:
            unique, n = f"{name}#{n}", n + 1
        columns[unique] = np.asarray(r.scores, dtype=np.float64)
    columns.update(text_score_columns(result))  # a text audit: blind_baseline, text
    return pd.DataFrame(columns)


def scores_csv_bytes(result: AuditResult) -> bytes:
    """:func:`scores_table` as spreadsheet-safe CSV bytes (:func:`privaudit.csv_output.csv_bytes`: text cells that
    start with ``= + - @``, tab or CR get a leading ``'``; scores stay numbers; shortest round-trip floats, no index)."""
    return csv_bytes(scores_table(result))


def write_scores_csv(result: AuditResult, path: str | Path) -> Path:
    """Write :func:`scores_csv_bytes` to ``path`` atomically."""
    return write_file_atomic(path, scores_csv_bytes(result))
