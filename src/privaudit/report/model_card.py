"""A privacy section for a Hugging Face model card, rendered from ``report.json``.

:func:`model_card_section` reads a finished report (the dict
:func:`privaudit.report.report_dict` wrote) and returns Markdown meant to be
pasted into a model repository's ``README.md`` (the model card) under its
own ``## Privacy`` heading, beside the card's "Evaluation" and "Bias, Risks,
and Limitations" sections. Like every renderer it computes nothing new.

Defences are printed as the report records them: a ``defences`` mapping
(top level, target name → anything, or per ``targets[]`` entry), and from the
audit config a target's ``output_defence`` and the training recipe of its
reference models. Anything else is "none recorded".

Example::

    from privaudit.gate import load_report
    report, path = load_report("privaudit-report")
    print(model_card_section(report, source=str(path)))
"""

from __future__ import annotations

import math
from pathlib import Path

from privaudit.report.formatting import confidence_label, count, epsilon_value, fpr_label, percent, percent_range
from privaudit.shared_paths import is_local_path, shareable_path

__all__ = ["model_card_section", "write_model_card"]

_MAX_TPR_COLUMNS = 2


def _shared_source(source: str) -> str:
    """The report's path as the card may quote it: a local absolute path shrinks to its folder and file name (``report/report.json``)."""
    if not is_local_path(source):
        return source
    path = Path(source)
    return f"{path.parent.name}/{path.name}" if path.parent.name else path.name


def _fixed(value, digits: int = 3) -> str:
    """A figure with ``digits`` decimals, ``'n/a'`` for null/NaN (as strict JSON writes it) or non-numbers."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return "n/a"
    return f"{value:.{digits}f}"


def _count(value) -> str:
    """A record count with thousands separators, ``'an unrecorded number of'`` when missing."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return "an unrecorded number of"
    return count(value)


def _interval(ci) -> str:
    return "no interval" if not ci else f"{_fixed(ci[0])}, {_fixed(ci[1])}"


def _level(value) -> str:
    return confidence_label(float(value)) if isinstance(value, (int, float)) and 0 < value < 1 else "stated"


def _describe(value) -> str:
    """A recorded setting in one line: mappings as 'key value, ...', nested ones in parentheses."""
    if isinstance(value, dict):
        parts = [f"{key} {_describe(inner)}" if not isinstance(inner, dict) else f"{key} ({_describe(inner)})"
                 for key, inner in value.items() if inner is not None and inner is not False]
        return ", ".join(parts) if parts else "none"
    if isinstance(value, (list, tuple)):
        return ", ".join(_describe(v) for v in value)
    if value is True:
        return "yes"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _config_targets(report: dict) -> dict:
    config = (report.get("run") or {}).get("config") or {}
    return {t.get("name"): t for t in config.get("targets") or [] if isinstance(t, dict) and isinstance(t.get("name"), str)}


def _defences(report: dict) -> dict[str, list[str]]:
    """Target name → recorded defence lines (empty when none are recorded)."""
    names = [t.get("name") for t in report.get("targets", [])] or sorted({r.get("target") for r in report["results"]})
    lines: dict[str, list[str]] = {name: [] for name in names}
    top = report.get("defences")
    if isinstance(top, dict):
        for name, value in top.items():
            lines.setdefault(name, []).append(_describe(value))
    for target in report.get("targets", []):
        if target.get("defences"):
            lines.setdefault(target["name"], []).append(_describe(target["defences"]))
    for name, spec in _config_targets(report).items():
        if spec.get("output_defence"):
            lines.setdefault(name, []).append(f"output defence: {_describe(spec['output_defence'])}")
        reference = spec.get("reference") if isinstance(spec.get("reference"), dict) else {}
        training = reference.get("training") if isinstance(reference.get("training"), dict) else {}
        recorded = {k: training[k] for k in ("weight_decay", "label_smoothing", "dp") if training.get(k)}
        if recorded:
            lines.setdefault(name, []).append(
                f"training recipe of its reference models (trained like the model): {_describe(recorded)}")
    return lines


def _tpr_fprs(report: dict) -> list[float]:
    """The lowest supported target FPRs (at most two), lowest last."""
    first = report["results"][0]
    supported = sorted((float(k) for k, p in first.get("tpr_at_fpr", {}).items() if p.get("supported")), reverse=True)
    return supported[-_MAX_TPR_COLUMNS:]


def _point(entry: dict, fpr: float) -> dict | None:
    return next((p for k, p in entry.get("tpr_at_fpr", {}).items() if abs(float(k) - fpr) <= 1e-12 * fpr), None)


def _leakage_table(report: dict, fprs: list[float]) -> list[str]:
    level = _level(report["results"][0].get("confidence", 0.95))
    header = ["model", "attack", f"AUC [{level} CI]"] + [f"TPR at {fpr_label(f)} FPR [{level} CI]" for f in fprs] + ["ε lower bound"]
    rows = ["| " + " | ".join(header) + " |", "| " + " | ".join(["---", "---"] + ["---:"] * (len(header) - 2)) + " |"]
    for entry in report["results"]:
        cells = [str(entry.get("target")), str(entry.get("attack")).replace("|", "\\|"),
                 f"{_fixed(entry['auc'])} [{_interval(entry.get('auc_ci'))}]"]
        for fpr in fprs:
            point = _point(entry, fpr)
            ci = None if point is None else point.get("ci")
            cells.append("n/a" if point is None else f"{percent(point['tpr'])} [{percent_range(*ci) if ci else 'no interval'}]")
        eps = entry.get("epsilon_lower_bound")
        cells.append("not computed" if not eps else f"{_epsilon_text(eps.get('epsilon_lb'))} ({eps.get('label')})")
        rows.append("| " + " | ".join(cells) + " |")
    return rows


def _epsilon_text(value) -> str:
    if value is None or (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isnan(value)):
        return "n/a"
    return epsilon_value(value)


def _epsilon_sentence(report: dict) -> str:
    entries = [r["epsilon_lower_bound"] for r in report["results"] if r.get("epsilon_lower_bound")]
    if not entries:
        return "No ε figure is recorded in this report."
    e = entries[0]
    delta = e.get("delta")
    level = f"δ = {delta:g}" if isinstance(delta, (int, float)) and not isinstance(delta, bool) else "δ unrecorded"
    level += f", {_level(e.get('confidence', 0.95))} confidence"
    if e.get("valid"):
        correction = e.get("correction")
        return (f"ε lower bound ({level}): membership of the audited records was randomised by fair coin flips, so this is a "
                "valid lower bound on the differential-privacy ε of the training (one-run audit, Steinke, Nasr & Jagielski 2023)"
                + (f", corrected for choosing the largest ({correction})" if correction else
                   "; this report does not record a correction for choosing the largest over attacks, so only one attack's figure is a valid bound")
                + ". It shows how much privacy is at least lost; it is not the guarantee, which only a DP training proof gives.")
    return (f"ε figure ({level}): a *heuristic estimate* from each attack's ROC in the low-FPR region (threshold chosen on half "
            "the records, Clopper–Pearson bounds on the other half). Membership was not randomised by coin flips, so it is not a "
            "proven lower bound on the differential-privacy ε, and it is never an upper bound (a guarantee).")


def model_card_section(report: dict, *, source: str = "report.json") -> str:
    """The ``## Privacy`` section of a Hugging Face model card, in Markdown.

    Parameters
    ----------
    report : dict
        A loaded ``report.json`` (see ``docs/report-schema.md``).
    source : str
        Where the report came from, quoted in the section (an absolute local
        path is shortened to its folder and file name: the card is shared).

    Returns
    -------
    str
        Subsections: defences used (or "none recorded"), measured leakage with
        intervals (AUC, TPR at the lowest supported FPRs, ε lower bound with
        its label), attacks and data used (sizes), and what the figures do not
        cover. Ends with a newline.
    """
    run = report.get("run") or {}
    data = report.get("data") or {}
    versions = run.get("versions") or {}
    results = report["results"]
    fprs = _tpr_fprs(report)
    out = ["## Privacy", ""]
    stamp = f"privaudit {versions.get('privaudit', '')}".strip()
    out += [f"<!-- Written by {stamp} from {_shared_source(source)}" + (f" (audit of {run['started_at']})" if run.get("started_at") else "")
            + "; regenerate with `privaudit model-card`. -->", ""]

    out += ["### Defences", ""]
    for name, lines in _defences(report).items():
        out.append(f"* **{name}**: " + ("; ".join(lines) if lines else "none recorded."))
    out.append("")

    out += ["### Measured membership leakage", ""]
    out.append(
        f"A membership-inference audit asked how well an attacker can tell the {_count(data.get('n_members'))} records the model "
        f"was trained on (members) from {_count(data.get('n_nonmembers'))} records it was not trained on (non-members). "
        "AUC 0.5 and a TPR equal to the FPR mean no measurable leakage; higher means the model gives its training records away."
    )
    out.append("")
    out += _leakage_table(report, fprs)
    out.append("")
    if not fprs:
        out += ["No TPR at a fixed FPR is shown: the audit has too few non-members to support any of its FPRs.", ""]
    out += [_epsilon_sentence(report), ""]
    for name, text in (report.get("verdicts") or {}).items():
        out.append(f"* **{name}**: {text}")
    if report.get("verdicts"):
        out.append("")
    out += _text_lines(report.get("text"))

    out += ["### Attacks and data", ""]
    attacks = sorted({str(r.get("attack")) for r in results})
    out.append(f"* Attacks ({len(attacks)}): {', '.join(f'`{a}`' for a in attacks)}; scores: higher = more likely a member.")
    for name, ref in (run.get("reference") or {}).items():
        size = f", each on at most {_count(ref['train_size'])} records" if ref.get("train_size") else ""
        out.append(f"* Reference models for **{name}**: {ref.get('n_models')} ({ref.get('mode')}{size}), trained like the model.")
    out.append(
        f"* Data: {_count(data.get('n_members'))} members, {_count(data.get('n_nonmembers'))} non-members, "
        f"{_count(data.get('n_population'))} population records (known non-members the attacks may use), from "
        f"`{shareable_path(run.get('data_source', 'unknown'))}`; membership randomised by coin flips: {'yes' if data.get('membership_randomized') else 'no'}."
    )
    details = [f"seed {run['seed']}" if run.get("seed") is not None else None,
               f"config hash `{str(run['config_hash'])[:12]}`" if run.get("config_hash") else None,
               f"privaudit {versions['privaudit']}" if versions.get("privaudit") else None]
    if any(details):
        out.append("* Run: " + ", ".join(d for d in details if d) + ".")
    out.append("")

    out += ["### What these figures do not cover", ""]
    out += [
        "* Only the attacks listed: stronger attacks (more reference models, other signals, white-box access) may find more. "
        "No measurable leakage is not proof that the model is private.",
        "* Only membership inference: not attribute inference, training-data reconstruction or extraction of memorised text.",
        "* Only the audited records and the model version audited; other records, populations or later fine-tuning are not covered.",
        "* The best attack and each TPR threshold are chosen on the evaluated records, which makes those figures slightly optimistic.",
        "* The ε figure is a lower bound or an estimate of leakage, never a privacy guarantee (an upper bound on ε comes only from "
        "a differentially private training procedure and its accounting).",
    ]
    return "\n".join(out) + "\n"


def _text_lines(text) -> list[str]:
    """A text audit's blind baseline, distribution-shift warning and canaries, for the leakage subsection ([] otherwise)."""
    if not isinstance(text, dict):
        return []
    out = []
    if text.get("warning"):
        out.append(f"* **Distribution shift**: {text['warning']}")
    blind = text.get("blind_baseline")
    if isinstance(blind, dict) and isinstance(blind.get("auc"), (int, float)):
        out.append(f"* Blind baseline (a classifier of the texts alone, never querying the model): AUC {blind['auc']:.3f}; "
                   "an attack's figure counts only where its interval lies wholly above it.")
    canaries = text.get("canaries")
    summary = canaries.get("summary") if isinstance(canaries, dict) else None
    if isinstance(summary, dict):
        inserted, other = (summary.get(k) or {} for k in ("inserted", "not_inserted"))
        fmt = lambda d: "n/a" if not isinstance(d.get("mean"), (int, float)) else f"{d['mean']:.1f} bits on average ({d.get('n')})"  # noqa: E731
        out.append(f"* Canaries: exposure of the inserted ones {fmt(inserted)}, of the others {fmt(other)}.")
    return out + [""] if out else []


def write_model_card(report: dict, out: str | Path, *, source: str = "report.json", force: bool = False) -> Path:
    """Write :func:`model_card_section` to ``out`` (UTF-8, atomically); returns the path.

    An existing file is replaced only when privaudit wrote it (its head holds
    the ``<!-- Written by privaudit`` comment) or with ``force``; otherwise
    :class:`~privaudit.exceptions.OutputError`.
    """
    from privaudit.output_folder import check_output_file, unwritable_error, write_file_atomic

    out = check_output_file(out, marker="<!-- Written by privaudit", force=force)
    text = model_card_section(report, source=source)
    try:
        return write_file_atomic(out, text.encode("utf-8"))
    except OSError as exc:
        raise unwritable_error(out, exc, "--out") from None
