"""Render a text audit's :class:`~privaudit.pipeline.AuditResult` (its ``text`` section); compute nothing new.

* ``report.json`` — the figures (:func:`text_report_dict`, ``schema_version`` ``"text-1.0"``);
* ``scores.csv`` — one row per audited text: id, member flag, every attack's score and the blind baseline's (higher = member);
* ``canaries.csv`` — one row per canary (when canaries were audited);
* ``report.html`` — one self-contained page (the distribution-shift warning at the top when it applies);
* :func:`print_text_summary` — the same in the terminal.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pandas as pd

from privaudit.pipeline import AttackResult, AuditResult
from privaudit.csv_output import csv_bytes
from privaudit.output_folder import OutputFolder
from privaudit.report.formatting import confidence_label, epsilon_value, fpr_label, percent, percent_range
from privaudit.report.json_report import strict_json_value

__all__ = ["TEXT_SCHEMA_VERSION", "TEXT_REPORT_FILES", "text_report_dict", "write_text_report", "print_text_summary", "render_text_html"]

TEXT_SCHEMA_VERSION = "text-1.0"
BLIND_NAME = "blind baseline (no model queries)"


def _view(result):
    """The text audit's AuditResult with its TextSection's fields alongside, under the names this renderer reads.

    (Issue 14 moves text rendering into :mod:`privaudit.report`; until then this keeps the renderer unchanged.)
    """
    if isinstance(result, SimpleNamespace):
        return result
    t = result.text
    if t is None:
        raise ValueError("not a text audit's result: AuditResult.text is None")
    return SimpleNamespace(
        target=result.targets[0].name, results=result.results, texts=t.texts, record_ids=result.record_ids, is_member=result.is_member,
        blind=t.blind, warning=t.warning, fprs=result.fprs, confidence=result.confidence, seed=result.seed, delta=result.delta,
        membership_randomized=result.membership_randomized, reference=t.reference, canaries=t.canaries, claim=t.claim, queries=t.queries,
        started_at=result.started_at, duration_s=result.duration_s, versions=result.versions, setup=t.setup,
        beats_blind_baseline=t.beats_blind_baseline, best=result.best,
    )


def text_report_dict(result: AuditResult) -> dict:
    """The ``report.json`` document: run, data, claim, results (with ``beats_blind_baseline``), blind_baseline, warning, canaries.

    ``claim`` is the corrected verdict over the attacks
    (:class:`privaudit.text.verdict.TextClaim`); ``canaries.one_run_epsilon``
    is the per-record bound with its group size and per-canary figure
    (:class:`privaudit.text.canary_epsilon.CanaryEpsilonBound`);
    ``canaries.exposures[*].exposure`` is the sampled-rank exposure (at most
    ``max_exposure`` = log₂(n_candidates + 1)) and ``exposure_extrapolated``
    the skew-normal estimate.
    """
    result = _view(result)
    results = []
    for r in result.results:
        results.append({"attack": r.attack, "target": r.target, **r.metrics.to_dict(), "beats_blind_baseline": result.beats_blind_baseline(r)})
    canaries = None
    if result.canaries is not None:
        c = result.canaries
        canaries = {
            "n_canaries": len(c.exposures), "repetitions": c.repetitions, "n_candidates": c.n_candidates, "summary": c.summary(),
            "one_run_epsilon": None if c.one_run is None else c.one_run.to_dict(), "exposures": [e.to_dict() for e in c.exposures],
        }
    document = {
        "schema_version": TEXT_SCHEMA_VERSION,
        "run": {"started_at": result.started_at, "duration_s": result.duration_s, "seed": result.seed, "versions": result.versions,
                "queries": result.queries, "setup": result.setup},
        "target": result.target,
        "reference": result.reference,
        "data": {"n_members": int(result.is_member.sum()), "n_nonmembers": int((~result.is_member).sum()),
                 "membership_randomized": result.membership_randomized},
        "fprs": list(result.fprs), "confidence": result.confidence, "delta": result.delta,
        "claim": None if result.claim is None else result.claim.to_dict(),
        "results": results,
        "blind_baseline": None if result.blind is None else {"description": result.blind.description, "n_folds": result.blind.n_folds,
                                                            "shift_p_value": result.blind.p_value,
                                                            "fold_p_values": list(result.blind.fold_p_values),
                                                            **result.blind.metrics.to_dict()},
        "warning": result.warning,
        "canaries": canaries,
    }
    return strict_json_value(document)


def _scores_frame(result: AuditResult) -> pd.DataFrame:
    frame = pd.DataFrame({"record_id": result.record_ids, "member": result.is_member.astype(int)})
    for r in result.results:
        frame[r.attack] = r.scores
    if result.blind is not None:
        frame["blind_baseline"] = result.blind.scores
    frame["text"] = result.texts
    return frame


def _rows(result: AuditResult) -> list[dict]:
    rows = []
    pool = list(result.results)
    for r in sorted(pool, key=lambda r: -r.metrics.auc):
        m = r.metrics
        cells = []
        for fpr in result.fprs:
            op = m.operating_points.get(fpr)
            cells.append(None if op is None else {"tpr": percent(op.tpr), "ci": percent_range(*op.ci), "supported": op.supported})
        eps = m.epsilon_lower_bound
        rows.append({"attack": r.attack, "auc": f"{m.auc:.3f}", "auc_ci": f"{m.auc_ci[0]:.3f}–{m.auc_ci[1]:.3f}", "cells": cells,
                     "epsilon": None if eps is None else epsilon_value(eps.epsilon_lb), "beats": result.beats_blind_baseline(r)})
    return rows


def render_text_html(result: AuditResult) -> str:
    """The self-contained HTML page of a text audit."""
    result = _view(result)
    from privaudit.report.jinja_environment import template_environment
    from privaudit.report.plots import roc_svg

    curves = list(sorted(result.results, key=lambda r: -r.metrics.auc))
    if result.blind is not None:
        curves.append(AttackResult(result.target, BLIND_NAME, None, result.blind.scores, result.blind.metrics))
    blind = None
    if result.blind is not None:
        m = result.blind.metrics
        blind = {"auc": f"{m.auc:.3f}", "auc_ci": f"{m.auc_ci[0]:.3f}–{m.auc_ci[1]:.3f}", "description": result.blind.description,
                 "p_value": f"{result.blind.p_value:.2g}", "significant": result.blind.p_value <= 1.0 - result.confidence,
                 "cells": [None if m.operating_points.get(f) is None else {"tpr": percent(m.operating_points[f].tpr), "ci": percent_range(*m.operating_points[f].ci),
                                                                            "supported": m.operating_points[f].supported} for f in result.fprs]}
    canaries = None
    if result.canaries is not None:
        c = result.canaries
        canaries = {"rows": [e.to_dict() for e in c.exposures], "summary": c.summary(), "repetitions": c.repetitions, "n_candidates": c.n_candidates,
                    "max_exposure": c.exposures[0].max_exposure if c.exposures else None,
                    "one_run": None if c.one_run is None else {"epsilon": epsilon_value(c.one_run.epsilon_lb), "m": c.one_run.m,
                                                               "epsilon_group": epsilon_value(c.one_run.epsilon_lb_group),
                                                               "group_size": c.one_run.group_size, "delta": f"{c.one_run.delta:g}",
                                                               "correct": c.one_run.n_correct, "guesses": c.one_run.n_guesses}}
    context = {
        "result": result, "rows": _rows(result), "blind": blind, "canaries": canaries, "fpr_labels": [fpr_label(f) for f in result.fprs],
        "confidence": confidence_label(result.confidence), "n_members": int(result.is_member.sum()), "n_nonmembers": int((~result.is_member).sum()),
        # no user data (model names may hold "$...$", which matplotlib would parse as mathtext): the page header names the target
        "roc": roc_svg(curves, result.is_member, plot_id="text-roc", title="text attacks"),
        "claim": result.claim,
        "setup": json.dumps(strict_json_value(result.setup), indent=2, ensure_ascii=False) if result.setup else None,
        "versions": result.versions,
    }
    return template_environment().get_template("text_report.html.j2").render(**context)


#: the files :func:`write_text_report` may write (``canaries.csv`` only with canaries)
TEXT_REPORT_FILES = ("report.json", "scores.csv", "canaries.csv", "report.html")


def write_text_report(result: AuditResult, out_dir: str | Path | OutputFolder, *, force: bool = False) -> dict[str, Path]:
    """Write ``report.json``, ``scores.csv``, ``report.html`` (and ``canaries.csv``) into ``out_dir``, all or nothing; returns their paths.

    Everything is rendered first and swapped in together with a
    ``manifest.json`` (:class:`~privaudit.output_folder.OutputFolder`). CSV
    cells are spreadsheet-safe (:func:`privaudit.csv_output.csv_bytes`).
    ``out_dir`` may be an :class:`OutputFolder` the caller opened; ``force``
    writes into a folder privaudit did not create (for a path only).
    """
    result = _view(result)
    if not isinstance(out_dir, OutputFolder):
        with OutputFolder(out_dir, command="text-report", names=TEXT_REPORT_FILES, force=force) as folder:
            return write_text_report(result, folder)
    folder = out_dir
    folder.claim(*TEXT_REPORT_FILES)
    paths = {
        "json": folder.write_text("report.json", json.dumps(text_report_dict(result), indent=2, allow_nan=False, ensure_ascii=False) + "\n"),
        "scores": folder.write_bytes("scores.csv", csv_bytes(_scores_frame(result))),
    }
    if result.canaries is not None:
        canaries = pd.DataFrame([{k: v for k, v in e.to_dict().items() if k != "fit"} for e in result.canaries.exposures])
        paths["canaries"] = folder.write_bytes("canaries.csv", csv_bytes(canaries))
    paths["html"] = folder.write_text("report.html", render_text_html(result))
    folder.commit(remove=[] if result.canaries is not None else ["canaries.csv"])  # an earlier run's canaries would not belong
    return paths


def print_text_summary(result: AuditResult, console=None) -> None:
    """Attack table (AUC with CI, TPR at each FPR, beats the blind baseline), the warning, canary exposure."""
    result = _view(result)
    from rich.console import Console
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    console = console or Console()
    n_m, n_n = int(result.is_member.sum()), int((~result.is_member).sum())
    # user data (model folder names, attack parameters) is never read as rich markup
    table = Table(title=Text(f"{result.target}: {n_m:,} member vs {n_n:,} non-member texts ({confidence_label(result.confidence)} CIs)"))
    table.add_column("attack")
    table.add_column("AUC", justify="right")
    for label in (fpr_label(f) for f in result.fprs):
        table.add_column(f"TPR @ {label} FPR", justify="right")
    table.add_column("beats blind", justify="center")
    for row in _rows(result):
        cells = [("—" if c is None else f"{c['tpr']} [{c['ci']}]" + ("" if c["supported"] else " †")) for c in row["cells"]]
        beats = {True: "yes", False: "no", None: "—"}[row["beats"]]
        table.add_row(Text(row["attack"]), Text(f"{row['auc']} [{row['auc_ci']}]"), *map(Text, cells), beats)
    if result.blind is not None:
        m = result.blind.metrics
        cells = [f"{percent(m.operating_points[f].tpr)}" if f in m.operating_points else "—" for f in result.fprs]
        table.add_row(BLIND_NAME, Text(f"{m.auc:.3f} [{m.auc_ci[0]:.3f}–{m.auc_ci[1]:.3f}]"), *map(Text, cells), "", style="dim")
    console.print(table)
    console.print("† fewer than 10 expected false positives at this FPR: the sample does not resolve it.", style="dim")
    if result.claim is not None:
        console.print(Text(result.claim.sentence, style="bold"))
    if result.warning:
        console.print(Panel(Text(result.warning), title="distribution shift", border_style="bold red", style="bold red"))
    if result.canaries is not None and result.canaries.exposures:
        s = result.canaries.summary()
        fmt = lambda d: "n/a" if d["mean"] is None else f"mean {d['mean']:.1f}, max {d['max']:.1f} bits ({d['n']})"  # noqa: E731
        line = (f"canary exposure (sampled rank, of {result.canaries.exposures[0].max_exposure:.1f} bits the "
                f"{result.canaries.n_candidates} candidates can show): inserted {fmt(s['inserted'])}; not inserted {fmt(s['not_inserted'])}")
        one_run = result.canaries.one_run
        if one_run is not None:
            line += f"; one-run ε lower bound per record {epsilon_value(one_run.epsilon_lb)} (δ = {one_run.delta:g}, canaries coin-flipped"
            if one_run.group_size > 1:
                line += f"; {epsilon_value(one_run.epsilon_lb_group)} per canary of {one_run.group_size} copies, converted by group privacy"
            line += ")"
        console.print(Text(line))
