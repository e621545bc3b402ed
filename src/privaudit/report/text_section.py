"""The text section of a report: what a text audit adds (``AuditResult.text``, :class:`privaudit.text.section.TextSection`).

Rendered into the one report like groups are, computing nothing new:

* ``report.json`` — the ``text`` key (:func:`text_report_section`): reference
  model, blind baseline, distribution-shift warning, the corrected claim,
  ``beats_blind_baseline`` per attack, canaries, query statistics, setup;
* ``scores.csv`` — the blind baseline's score and the text of each record
  (:func:`text_score_columns`);
* ``canaries.csv`` — one row per canary (:func:`canaries_csv_bytes`);
* ``report.html`` — the partial ``templates/text_section.html.j2`` (the
  warning first) with :func:`text_html_context`;
* the terminal — :func:`print_text_section`.
"""

from __future__ import annotations

import json

import numpy as np

from privaudit.report.formatting import auc_text, confidence_label, epsilon_value, percent, percent_range

__all__ = ["BLIND_NAME", "CANARIES_FILE", "text_report_section", "text_score_columns", "canaries_csv_bytes", "text_html_context",
           "text_report_notes", "print_text_section"]

#: how the blind baseline is named in tables and plots
BLIND_NAME = "blind baseline (no model queries)"
#: the per-canary table written beside the report when canaries were audited
CANARIES_FILE = "canaries.csv"


def _canaries_dict(c) -> dict:
    return {"n_canaries": len(c.exposures), "repetitions": c.repetitions, "n_candidates": c.n_candidates, "summary": c.summary(),
            "one_run_epsilon": None if c.one_run is None else c.one_run.to_dict(), "exposures": [e.to_dict() for e in c.exposures]}


def text_report_section(result) -> dict | None:
    """The ``text`` key of ``report.json`` (None for a tabular audit); see ``docs/report-schema.md``.

    ``beats_blind_baseline`` maps ``"<target>/<attack>"`` to true / false (null
    without a blind baseline); ``claim`` is the Holm-corrected
    :class:`privaudit.text.verdict.TextClaim`; ``canaries.one_run_epsilon`` the
    per-record bound (:class:`privaudit.text.canary_epsilon.CanaryEpsilonBound`).
    """
    text = getattr(result, "text", None)
    if text is None:
        return None
    blind = text.blind
    return {
        "reference": text.reference,
        "warning": text.warning,
        "claim": None if text.claim is None else text.claim.to_dict(),
        "blind_baseline": None if blind is None else {"description": blind.description, "n_folds": blind.n_folds, "shift_p_value": blind.p_value,
                                                      "fold_p_values": list(blind.fold_p_values), **blind.metrics.to_dict()},
        "beats_blind_baseline": {f"{r.target}/{r.attack}": text.beats_blind_baseline(r) for r in result.results},
        "canaries": None if text.canaries is None else _canaries_dict(text.canaries),
        "queries": dict(text.queries),
        "setup": dict(text.setup),
    }


def text_score_columns(result) -> dict:
    """Extra ``scores.csv`` columns of a text audit: ``blind_baseline`` (when run) and ``text``, aligned with ``record_ids``."""
    text = getattr(result, "text", None)
    if text is None:
        return {}
    columns = {} if text.blind is None else {"blind_baseline": np.asarray(text.blind.scores, dtype=np.float64)}
    columns["text"] = np.asarray([str(t) for t in text.texts], dtype=object)
    return columns


def canaries_csv_bytes(result) -> bytes | None:
    """``canaries.csv``: one spreadsheet-safe row per canary (its fit parameters left out), or None without canaries."""
    text = getattr(result, "text", None)
    if text is None or text.canaries is None:
        return None
    import pandas as pd

    from privaudit.csv_output import csv_bytes

    return csv_bytes(pd.DataFrame([{k: v for k, v in e.to_dict().items() if k != "fit"} for e in text.canaries.exposures]))


def _cells(metrics, fprs) -> list:
    return [None if metrics.operating_points.get(f) is None else {
        "tpr": percent(metrics.operating_points[f].tpr), "ci": percent_range(*metrics.operating_points[f].ci),
        "supported": metrics.operating_points[f].supported} for f in fprs]


def text_html_context(result) -> dict | None:
    """What ``text_section.html.j2`` shows (None for a tabular audit): warning, claim, blind baseline, beats-blind rows, canaries, setup."""
    text = getattr(result, "text", None)
    if text is None:
        return None
    blind = None
    if text.blind is not None:
        m = text.blind.metrics
        blind = {"auc": f"{m.auc:.3f}", "auc_ci": f"{m.auc_ci[0]:.3f}–{m.auc_ci[1]:.3f}", "description": text.blind.description,
                 "p_value": f"{text.blind.p_value:.2g}", "significant": text.blind.p_value <= 1.0 - result.confidence,
                 "cells": _cells(m, result.fprs)}
    rows = [{"attack": r.attack, "auc": f"{r.metrics.auc:.3f}", "auc_ci": f"{r.metrics.auc_ci[0]:.3f}–{r.metrics.auc_ci[1]:.3f}",
             "cells": _cells(r.metrics, result.fprs), "beats": text.beats_blind_baseline(r)}
            for r in sorted(result.results, key=lambda r: -r.metrics.auc)]
    canaries = None
    if text.canaries is not None:
        c = text.canaries
        canaries = {"rows": [e.to_dict() for e in c.exposures], "summary": c.summary(), "repetitions": c.repetitions, "n_candidates": c.n_candidates,
                    "max_exposure": c.exposures[0].max_exposure if c.exposures else 0.0,
                    "one_run": None if c.one_run is None else {"epsilon": epsilon_value(c.one_run.epsilon_lb), "m": c.one_run.m,
                                                               "epsilon_group": epsilon_value(c.one_run.epsilon_lb_group),
                                                               "group_size": c.one_run.group_size, "delta": f"{c.one_run.delta:g}",
                                                               "correct": c.one_run.n_correct, "guesses": c.one_run.n_guesses}}
    from privaudit.report.json_values import strict_json_value

    return {
        "warning": text.warning, "claim": text.claim, "reference": text.reference, "blind": blind, "rows": rows, "canaries": canaries,
        "alpha": f"{1.0 - result.confidence:g}", "membership_randomized": result.membership_randomized,
        "setup": json.dumps(strict_json_value(text.setup), indent=2, ensure_ascii=False) if text.setup else None,
    }


def text_report_notes(result) -> list[str]:
    """Caveats of a text audit's figures, in plain words (they replace the tabular notes)."""
    text = result.text
    n_nonmembers = int((~np.asarray(result.is_member, dtype=bool)).sum())
    notes = ["Scores: for every attack a higher score means the text is more likely a member (in the training data)."]
    if text.claim is not None:
        notes.append(f"Claim: {text.claim.method}, over the {text.claim.n_attacks} attacks run, at α = {text.claim.alpha:g}; the AUC "
                     "intervals in the tables are per attack and not corrected for choosing the best.")
    notes.append("Blind baseline: a bag-of-words classifier trained on the texts alone, never querying the model; an attack "
                 "counts only where its AUC interval lies wholly above the baseline's (\"beats blind baseline\"). "
                 + ("It was not run in this audit." if text.blind is None else f"Here: {text.blind.description}."))
    notes.append(f"AUC intervals are {confidence_label(result.confidence)} stratified bootstrap intervals; TPR intervals Clopper–Pearson "
                 f"at a threshold chosen on the same texts (slightly optimistic). This audit has {n_nonmembers:,} non-member texts.")
    if not result.membership_randomized:
        notes.append("ε: membership was not randomised by coin flips, so any ε figure is a heuristic estimate, not a lower bound.")
    return notes


def print_text_section(result, console) -> None:
    """The terminal lines of a text audit: blind baseline and beats-blind per attack, the distribution-shift warning, canary exposure."""
    from rich.panel import Panel
    from rich.text import Text

    text = getattr(result, "text", None)
    if text is None:
        return
    if text.warning:
        console.print(Panel(Text(text.warning), title="distribution shift", border_style="bold red", style="bold red"))
    if text.reference:
        console.print(Text(f"Reference model: {text.reference}."))
    if text.blind is not None:
        m = text.blind.metrics
        beats = [r.attack for r in result.results if text.beats_blind_baseline(r)]
        console.print(Text(f"Blind baseline (no model queries): {auc_text(m.auc, m.auc_ci, result.confidence)}; "
                           f"attacks whose AUC interval lies wholly above it: {', '.join(beats) if beats else 'none'}."))
    if text.canaries is not None and text.canaries.exposures:
        c = text.canaries
        s = c.summary()
        fmt = lambda d: "n/a" if d["mean"] is None else f"mean {d['mean']:.1f}, max {d['max']:.1f} bits ({d['n']})"  # noqa: E731
        line = (f"Canary exposure (sampled rank, of {c.exposures[0].max_exposure:.1f} bits the {c.n_candidates} candidates can show): "
                f"inserted {fmt(s['inserted'])}; not inserted {fmt(s['not_inserted'])}")
        if c.one_run is not None:
            line += f"; one-run ε lower bound per record {epsilon_value(c.one_run.epsilon_lb)} (δ = {c.one_run.delta:g}, canaries coin-flipped"
            if c.one_run.group_size > 1:
                line += f"; {epsilon_value(c.one_run.epsilon_lb_group)} per canary of {c.one_run.group_size} copies, converted by group privacy"
            line += ")"
        console.print(Text(line + "."))
