"""Render a sweep's ``sweep.json`` document: the privacy–utility frontier as an HTML page and a terminal table.

Computes nothing new: every figure, and which settings are on the Pareto
frontier, comes from the document (:func:`privaudit.sweep.summary.sweep_document`).
The page is self-contained like ``report.html`` (inline CSS and SVG, no
scripts) and uses the same template environment, number formatting and plot style.
"""

from __future__ import annotations

import numpy as np

from privaudit.report import formatting
from privaudit.report.plots import PLOT_COLOURS, figure_to_svg, plot_style

__all__ = ["frontier_svg", "label_positions", "render_sweep_html", "sweep_context", "print_sweep_summary"]

_ON_FRONT, _OFF_FRONT = PLOT_COLOURS[1], "#7f7f7f"


def frontier_svg(points: list[dict], *, plot_id: str, title: str, ylabel: str, percent_y: bool, chance: float | None = None) -> str:
    """Test accuracy (x) against a leakage figure (y) per setting, each point labelled, the Pareto frontier drawn as a staircase.

    Parameters
    ----------
    points : list of dict
        ``name``, ``x`` (test accuracy), ``y`` (leakage, lower = better),
        ``y_ci`` (``[low, high]`` or None: error bars), ``on_front`` (bool),
        ``supported`` (False: drawn hollow). Points with a missing x or y are left out.
    plot_id, title, ylabel : str
    percent_y : bool
        Show y as a percentage (rates) rather than a plain number (ε).
    chance : float, optional
        A horizontal dashed line, e.g. TPR = FPR for a guessing attacker.

    Returns
    -------
    str
        An ``<svg class="plot">`` element. The frontier joins the Pareto-optimal
        points in order of accuracy: for each accuracy, the least leakage any
        setting at least that accurate showed.
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import PercentFormatter

    shown = [p for p in points if p["x"] is not None and p["y"] is not None]
    with plot_style(plot_id):
        figure = Figure(figsize=(5.4, 4.2))
        axes = figure.add_subplot()
        if chance is not None:
            axes.axhline(chance, color="#888888", linestyle="--", linewidth=1, label="chance (TPR = FPR)")
        front = sorted((p for p in shown if p["on_front"]), key=lambda p: (p["x"], p["y"]))
        if len(front) > 1:
            axes.plot([p["x"] for p in front], [p["y"] for p in front], drawstyle="steps-pre", color=_ON_FRONT, linewidth=1.2, alpha=0.7,
                      label="Pareto frontier")
        for p in shown:
            colour = _ON_FRONT if p["on_front"] else _OFF_FRONT
            if p.get("y_ci") is not None:
                low, high = p["y_ci"]
                axes.errorbar([p["x"]], [p["y"]], yerr=[[max(p["y"] - low, 0.0)], [max(high - p["y"], 0.0)]], fmt="none",
                              ecolor=colour, elinewidth=1, capsize=2.5, alpha=0.8)
            axes.plot([p["x"]], [p["y"]], marker="o", markersize=5.5, color=colour,
                      markerfacecolor=colour if p.get("supported", True) else "white", linestyle="none")
        axes.set_xlabel("test accuracy (non-members; higher = more useful)")
        axes.set_ylabel(ylabel)
        axes.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=1))
        if percent_y:
            axes.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=1))
        if shown:
            xs = np.array([p["x"] for p in shown])
            pad = max(0.005, 0.08 * float(xs.max() - xs.min()))
            axes.set_xlim(float(xs.min()) - pad, float(xs.max()) + 2.5 * pad)
        axes.set_ylim(bottom=0.0)
        axes.set_ylim(0.0, axes.get_ylim()[1] * 1.1)  # room for labels moved up
        _label_points(axes, shown)
        axes.set_title(title, fontsize=10)
        handles, _ = axes.get_legend_handles_labels()
        if handles:
            axes.legend(loc="upper left", fontsize=7, frameon=True, framealpha=0.9, edgecolor="#dddddd")
        return figure_to_svg(figure, plot_id, f"Privacy–utility frontier: {title}")


def label_positions(xy: np.ndarray, *, min_dx: float = 0.16, min_dy: float = 0.05) -> np.ndarray:
    """Label heights (axes fractions) that keep labels of nearby points apart: each label starts at its
    point and moves up until no label placed before it (points taken from the bottom up) is within ``min_dx``, ``min_dy``.

    Examples
    --------
    >>> label_positions(np.array([[0.5, 0.1], [0.52, 0.1], [0.9, 0.1]])).round(2).tolist()
    [0.1, 0.15, 0.1]
    """
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    heights = xy[:, 1].copy()
    placed: list[tuple[float, float]] = []
    for i in np.lexsort((xy[:, 0], xy[:, 1])):
        x, y = xy[i]
        while any(abs(x - px) < min_dx and abs(y - py) < min_dy - 1e-12 for px, py in placed):
            y += min_dy
        placed.append((x, y))
        heights[i] = y
    return heights


def _label_points(axes, shown: list[dict]) -> None:
    """Name each point; labels of crowded points are moved up and joined to their point by a thin line."""
    if not shown:
        return
    (x0, x1), (y0, y1) = axes.get_xlim(), axes.get_ylim()
    xy = np.array([[(p["x"] - x0) / (x1 - x0), (p["y"] - y0) / (y1 - y0)] for p in shown])
    heights = label_positions(xy)
    for p, (xf, yf), height in zip(shown, xy, heights):
        moved = height - yf > 1e-9
        axes.annotate(p["name"], (p["x"], p["y"]), xytext=(xf + 0.015, height + 0.02), textcoords="axes fraction", fontsize=7, color="#333333", parse_math=False,
                      arrowprops={"arrowstyle": "-", "color": "#bbbbbb", "linewidth": 0.6} if moved else None)


def _tpr_cell(entry: dict | None) -> dict | None:
    if entry is None:
        return None
    return {"tpr": entry["tpr"], "ci": entry["ci"], "supported": entry["supported"]}


def _row_context(row: dict, fpr_keys: list[str], frontier_key: str) -> dict:
    best = row["best"]
    eps = row["worst_case"]["epsilon_lb"]
    worst_tpr = row["worst_case"]["tpr_at_fpr"]
    dp = row["dp"]
    return {
        "name": row["name"], "defence": row["defence"], "output_kind": row["output_kind"],
        "test_accuracy": row["test_accuracy"], "train_accuracy": row["train_accuracy"], "epochs_run": row["epochs_run"],
        "dp": None if dp is None else {"epsilon": dp["epsilon"], "target": dp["target_epsilon"], "delta": dp["delta"],
                                       "sigma": dp["noise_multiplier"], "accountant": dp["accountant"]},
        "best": None if best is None else {"attack": best["attack"], "auc": best["auc"], "auc_ci": best["auc_ci"]},
        "worst_tpr": None if worst_tpr is None else {"attack": worst_tpr["attack"], **_tpr_cell(worst_tpr)},
        "worst_eps": None if eps is None else {"attack": eps["attack"], "value": formatting.epsilon_value(eps["value"]), "label": eps["label"]},
        "on_frontier": row["on_frontier"],
        "attacks": [
            {"attack": a["attack"], "auc": a["auc"], "auc_ci": a["auc_ci"],
             "cells": [_tpr_cell(a["tpr_at_fpr"].get(k)) for k in fpr_keys],
             "epsilon": None if a["epsilon_lb"] is None else {"value": formatting.epsilon_value(a["epsilon_lb"]["value"]), "label": a["epsilon_lb"]["label"]}}
            for a in row["attacks"]
        ],
        "skipped": row["attacks_skipped"],
        "reference": row["reference"],
        "duration_s": row["durations"]["total_s"],
        "resumed": row["resumed"],
        "reused_from": row["training_reused_from"],
    }


def sweep_context(document: dict) -> dict:
    """Everything ``sweep.html.j2`` shows, as plain values and ready SVG markup."""
    import yaml
    from markupsafe import Markup

    metrics = document["metrics"]
    fpr = metrics["frontier_fpr"]
    frontier_key = format(fpr, "g")
    fpr_keys = [format(f, "g") for f in metrics["fprs"]]
    rows = document["settings"]
    supported = document["data"]["n_nonmembers"] * fpr >= metrics["min_expected_false_positives"]
    tpr_points = [
        {"name": r["name"], "x": r["test_accuracy"], "y": None if r["worst_case"]["tpr_at_fpr"] is None else r["worst_case"]["tpr_at_fpr"]["tpr"],
         "y_ci": None if r["worst_case"]["tpr_at_fpr"] is None else r["worst_case"]["tpr_at_fpr"]["ci"],
         "on_front": r["on_frontier"]["tpr_at_fpr"], "supported": supported}
        for r in rows
    ]
    eps_points = [
        {"name": r["name"], "x": r["test_accuracy"], "y": None if r["worst_case"]["epsilon_lb"] is None else r["worst_case"]["epsilon_lb"]["value"],
         "y_ci": None, "on_front": r["on_frontier"]["epsilon_lb"], "supported": True}
        for r in rows
    ]
    fpr_text = formatting.fpr_label(fpr)
    eps_label = next((a["epsilon_lb"]["label"] for r in rows for a in r["attacks"] if a["epsilon_lb"] is not None), "heuristic estimate")
    eps_label = "ε lower bound" + ("" if eps_label == "lower bound" else f" ({eps_label})")
    return {
        "title": "privaudit privacy–utility sweep",
        "run": document["run"], "data": document["data"], "metrics": metrics,
        "frontier_fpr": fpr_text, "frontier_supported": supported,
        "confidence": formatting.confidence_label(metrics["confidence"]),
        "fprs": [formatting.fpr_label(f) for f in metrics["fprs"]],
        "tpr_plot": Markup(frontier_svg(tpr_points, plot_id="frontier-tpr", title=f"TPR at {fpr_text} FPR (highest over attacks)",
                                        ylabel=f"TPR at {fpr_text} FPR (lower = more private)", percent_y=True, chance=fpr)),
        "eps_plot": Markup(frontier_svg(eps_points, plot_id="frontier-eps", title=f"{eps_label}, highest over attacks",
                                        ylabel=f"{eps_label}; lower = more private", percent_y=False)),
        "rows": [_row_context(r, fpr_keys, frontier_key) for r in rows],
        "notes": document["notes"],
        "config_text": yaml.safe_dump(document["run"]["config"], sort_keys=False, allow_unicode=True).rstrip(),
        "versions": document["run"].get("versions") or {},
    }


def render_sweep_html(document: dict) -> str:
    """``sweep.html``: one self-contained page (two ``<svg class="plot">`` frontier plots, the table, notes, config)."""
    from privaudit.report.jinja_environment import template_environment

    return template_environment().get_template("sweep.html.j2").render(**sweep_context(document))


def print_sweep_summary(document: dict, console=None) -> None:
    """One table row per setting: accuracy, the best attack's AUC, worst-case TPR at 1 % and the frontier FPR, ε lb, DP ε, time."""
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = console or Console()
    metrics, data = document["metrics"], document["data"]
    fpr = metrics["frontier_fpr"]
    keys = [k for k in dict.fromkeys(["0.01", format(fpr, "g")]) if any(k in a["tpr_at_fpr"] for r in document["settings"] for a in r["attacks"])]
    console.print(f"[bold]privaudit sweep[/bold]: {len(document['settings'])} settings, {data['n_members']:,} members vs "
                  f"{data['n_nonmembers']:,} non-members ({data['n_population']:,} population records), seed {document['run']['seed']}")
    table = Table(title=f"Privacy–utility frontier (worst case over attacks; {formatting.confidence_label(metrics['confidence'])} CI)",
                  title_justify="left", header_style="bold", box=box.SIMPLE_HEAD)
    for header, justify in [("setting", "left"), ("test acc.", "right"), ("train acc.", "right"), ("AUC (best)", "right")]:
        table.add_column(header, justify=justify, overflow="fold")
    for key in keys:
        table.add_column(f"TPR at\n{formatting.fpr_label(float(key))} FPR", justify="right", overflow="fold")
    for header in ("ε lb", "DP ε", "time"):
        table.add_column(header, justify="right", overflow="fold")
    for row in document["settings"]:
        on_front = row["on_frontier"]["tpr_at_fpr"] or row["on_frontier"]["epsilon_lb"]
        cells = [Text(row["name"] + (" ◆" if on_front else ""), style="bold" if on_front else "") + Text(f"\n{row['defence']}", style="dim")]
        cells.append(Text(formatting.percent(row["test_accuracy"])))
        cells.append(Text(formatting.percent(row["train_accuracy"])))
        best = row["best"]
        cells.append(Text(f"{best['auc']:.3f}\n") + Text(f"{best['auc_ci'][0]:.3f}–{best['auc_ci'][1]:.3f}", style="dim") if best else Text("—"))
        for key in keys:
            pool = [a["tpr_at_fpr"][key] for a in row["attacks"] if key in a["tpr_at_fpr"]]
            worst = max(pool, key=lambda op: op["tpr"], default=None)
            if worst is None:
                cells.append(Text("—", style="dim"))
            elif not worst["supported"]:
                cells.append(Text(f"{formatting.percent(worst['tpr'])}†", style="dim"))
            else:
                cells.append(Text(f"{formatting.percent(worst['tpr'])}\n") + Text(formatting.percent_range(*worst["ci"]), style="dim"))
        eps = row["worst_case"]["epsilon_lb"]
        cells.append(Text(formatting.epsilon_value(eps["value"])) if eps else Text("—", style="dim"))
        dp = row["dp"]
        cells.append(Text(f"{dp['epsilon']:.2f}\n") + Text(f"σ {dp['noise_multiplier']:.2f}", style="dim") if dp else Text("∞", style="dim"))
        cells.append(Text(f"{row['durations']['total_s']:.0f} s" + (" (saved)" if row["resumed"] else "")))
        table.add_row(*cells)
    console.print(table)
    console.print(Text("◆ on the Pareto frontier (no other setting is at least as accurate and leaks at most as much, one strictly); "
                       "TPR and ε lb: the highest over the setting's attacks; DP ε: the accountant's (∞: no DP-SGD).", style="dim"))
    if any(not a["tpr_at_fpr"][k]["supported"] for r in document["settings"] for a in r["attacks"] for k in keys if k in a["tpr_at_fpr"]):
        console.print(Text(f"† not supported: fewer than {metrics['min_expected_false_positives']} expected false positives among "
                           f"{data['n_nonmembers']:,} non-members.", style="dim"))
    eps_notes = [n for n in document["notes"] if n.startswith("ε lb")]
    if eps_notes:
        console.print(Text(eps_notes[0], style="dim"))
