"""Plots for the HTML report, drawn with matplotlib (Agg) and returned as inline SVG.

matplotlib is imported inside each function so that importing the report
package stays cheap. Each SVG gets ``class="plot"`` and its own id salt, so
several plots on one page never share element ids.

Labels come from user data (target, attack, group and model-folder names), so
every figure is drawn with mathtext off (``text.parse_math: False`` in
:func:`plot_style`): a name such as ``$\\alpha$`` or ``$\\undefined$`` is drawn
as written, never parsed as maths (which could fail the whole report).
"""

from __future__ import annotations

import io
import re

import numpy as np

from privaudit.pipeline import AttackResult
from privaudit.metrics import MIN_EXPECTED_FALSE_POSITIVES, roc_curve

__all__ = ["roc_svg", "coinciding_curves", "roc_legend_label", "histogram_svg", "group_auc_svg", "clip_range", "thin_log_curve", "plot_style", "figure_to_svg", "PLOT_COLOURS",
           "ROC_LIMIT", "CLIP_PERCENTILES", "CLIP_FENCE_IQR"]

#: Lower limit of both log axes of the ROC plot.
ROC_LIMIT = 1e-4
#: Histogram range: these percentiles of the scores, at most CLIP_FENCE_IQR IQRs beyond the quartiles.
CLIP_PERCENTILES = (0.5, 99.5)
CLIP_FENCE_IQR = 5.0
# Attacks that rank records alike have identical curves; dashes keep each one visible.
_DASHES = ["-", (0, (5, 2)), (0, (1.5, 1.5)), (0, (6, 2, 1.5, 2)), (0, (3, 3)), (0, (8, 3))]
PLOT_COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"]


def thin_log_curve(fpr: np.ndarray, tpr: np.ndarray, *, floor: float = ROC_LIMIT / 10, steps_per_decade: int = 200,
                   exact_at=(0.1, 0.01, 0.001)) -> tuple[np.ndarray, np.ndarray]:
    """Drop ROC points that coincide on a log-log plot; keep the first and last point of each run.

    The kept points are bounded by the grid, not by the records: a monotone curve crosses at most
    about 2 × (decades shown) × ``steps_per_decade`` cells, so a million-record ROC is drawn
    from a few thousand points. The point :func:`privaudit.metrics.tpr_at_fpr` reads at each FPR
    in ``exact_at`` is always kept, so the drawn step curve's TPR there equals the full curve's.

    Parameters
    ----------
    fpr, tpr : arrays, shape (k,)
        An ROC from :func:`privaudit.metrics.roc_curve`, in its order.
    floor : float
        Values below are raised to it (0 has no place on a log axis).
    steps_per_decade : int
        Resolution of the grid on which points count as coinciding.
    exact_at : sequence of float
        FPRs (the report's table) where the thinned curve keeps the exact operating point.

    Returns
    -------
    fpr, tpr : arrays, shape (m,), m ≤ k
        Floored, in the original order.
    """
    raw = np.asarray(fpr, dtype=np.float64)
    fpr = np.maximum(raw, floor)
    tpr = np.maximum(np.asarray(tpr, dtype=np.float64), floor)
    if fpr.size == 0:
        return fpr, tpr
    # the last point at or below each FPR: where TPR (non-decreasing along the curve) is highest, as tpr_at_fpr reads it
    operating = np.searchsorted(raw, np.asarray(exact_at, dtype=np.float64) + 1e-15, side="right") - 1
    keys = np.stack([np.round(np.log10(fpr) * steps_per_decade), np.round(np.log10(tpr) * steps_per_decade)], axis=1)
    change = np.r_[True, np.any(keys[1:] != keys[:-1], axis=1)]
    starts = np.flatnonzero(change)
    ends = np.r_[starts[1:] - 1, fpr.size - 1]
    keep = np.unique(np.r_[starts, ends, operating[operating >= 0]])
    return fpr[keep], tpr[keep]


def clip_range(values: np.ndarray, *, percentiles: tuple[float, float] = CLIP_PERCENTILES, fence: float = CLIP_FENCE_IQR) -> tuple[float, float]:
    """A histogram range that a few extreme scores cannot stretch.

    The ``percentiles`` range of ``values``, narrowed to at most ``fence``
    interquartile ranges beyond the quartiles (a lump of capped scores, such
    as a logit-scaled confidence of ~744 for p = 1, can hold more than 0.5 %
    of the records). Widened by ±0.5 when it would be empty.

    Examples
    --------
    >>> [round(v, 3) for v in clip_range(np.r_[np.linspace(0, 1, 80), np.full(20, 700.0)])]
    [0.006, 4.073]
    """
    values = np.asarray(values, dtype=np.float64)
    low, high = np.percentile(values, percentiles)
    q1, q3 = np.percentile(values, [25, 75])
    iqr = q3 - q1
    if iqr > 0:
        low, high = max(low, q1 - fence * iqr), min(high, q3 + fence * iqr)
    if not high > low:
        low, high = low - 0.5, high + 0.5
    return float(low) + 0.0, float(high) + 0.0  # + 0.0 turns -0.0 into 0.0 for captions


def figure_to_svg(figure, plot_id: str, label: str) -> str:
    """The figure as an inline ``<svg class="plot">`` with an escaped ``aria-label`` and ``data-plot`` id."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg"):]  # strip the XML header and DOCTYPE
    svg = re.sub(r'^<svg([^>]*?) width="[^"]*" height="[^"]*"', r"<svg\1", svg, count=1)
    label = label.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
    return svg.replace("<svg", f'<svg class="plot" role="img" aria-label="{label}" data-plot="{plot_id}"', 1)


def plot_style(salt: str):
    """The report's matplotlib style as an ``rc_context``: SVG text, ids salted by ``salt``, mathtext off."""
    import matplotlib

    return matplotlib.rc_context(
        {
            "svg.fonttype": "none",
            "text.parse_math": False,  # labels carry user data: "$...$" is text, not maths
            "svg.hashsalt": f"privaudit-{salt}",
            "font.family": "sans-serif",
            "font.size": 9,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "grid.color": "#e4e4e4",
            "grid.linewidth": 0.6,
        }
    )


def coinciding_curves(results: list[AttackResult], is_member: np.ndarray) -> list[tuple[list[AttackResult], tuple[np.ndarray, np.ndarray]]]:
    """Attacks grouped by identical ROC curves, in first-appearance order, each group with its curve ``(fpr, tpr)``.

    Attacks whose scores rank the records alike (loss, confidence and logit
    confidence on a binary task, say) have exactly the same ROC points; the
    plot draws such a group once, with one legend entry naming them all.
    """
    groups: dict[bytes, tuple[list, tuple]] = {}
    for r in results:
        fpr, tpr, _ = roc_curve(r.scores, is_member)
        key = np.asarray(fpr, np.float64).tobytes() + b"|" + np.asarray(tpr, np.float64).tobytes()
        groups.setdefault(key, ([], (fpr, tpr)))[0].append(r)
    return list(groups.values())


def roc_legend_label(group: list[AttackResult], width: int = 70) -> str:
    """One legend entry for attacks with the same curve: their names and AUC, wrapped to ``width`` characters a line."""
    import textwrap

    if len(group) == 1:
        return f"{group[0].attack} (AUC {group[0].metrics.auc:.3f})"
    names = ", ".join(r.attack for r in group)
    return "\n".join(textwrap.wrap(f"{len(group)} attacks, one curve (AUC {group[0].metrics.auc:.3f}): {names}", width, break_on_hyphens=False))


def roc_svg(results: list[AttackResult], is_member: np.ndarray, *, plot_id: str, title: str) -> str:
    """ROC curves of several attacks on log-log axes (FPR and TPR from 1e-4 to 1), with the chance diagonal.

    Each curve is drawn as steps through the exact ROC points: at any FPR it
    shows the highest TPR a real threshold reaches without exceeding that
    FPR, the same rule as :func:`privaudit.metrics.tpr_at_fpr` (no
    interpolation, so plot and TPR table agree). Zeros are drawn just outside
    the axes.

    Parameters
    ----------
    results : list of AttackResult
        Scored on the same records, aligned with ``is_member``.
    is_member : bool array, shape (n,)
    plot_id : str
        Unique on the page; salts the SVG element ids.
    title : str

    Returns
    -------
    str
        An ``<svg class="plot">`` element. The FPR range below
        ``MIN_EXPECTED_FALSE_POSITIVES / n_nonmembers`` is shaded: the sample
        does not resolve it.
    """
    from matplotlib.figure import Figure  # no pyplot: the caller's backend stays untouched
    from matplotlib.ticker import FuncFormatter, NullFormatter

    is_member = np.asarray(is_member, dtype=bool)
    n_nonmembers = int((~is_member).sum())
    with plot_style(plot_id):
        figure = Figure(figsize=(4.8, 4.6))
        axes = figure.add_subplot()
        unresolved = min(1.0, MIN_EXPECTED_FALSE_POSITIVES / max(n_nonmembers, 1))
        if unresolved > ROC_LIMIT:
            axes.axvspan(ROC_LIMIT, unresolved, color="#ececec", zorder=0, linewidth=0,
                         label=f"unresolved: < {MIN_EXPECTED_FALSE_POSITIVES} expected false positives")
        axes.plot([ROC_LIMIT, 1], [ROC_LIMIT, 1], color="#888888", linestyle="--", linewidth=1, label="chance")
        for i, (group, (fpr, tpr)) in enumerate(coinciding_curves(results, is_member)):
            fpr, tpr = thin_log_curve(fpr, tpr, exact_at=sorted({f for r in group for f in r.metrics.operating_points}))
            axes.plot(fpr, tpr, drawstyle="steps-post", color=PLOT_COLOURS[i % len(PLOT_COLOURS)], linestyle=_DASHES[i % len(_DASHES)], linewidth=1.5,
                      label=roc_legend_label(group))
        axes.set_xscale("log")
        axes.set_yscale("log")
        for axis in (axes.xaxis, axes.yaxis):  # plain decimals (0.001), not mathtext, which is off for user labels
            axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
            axis.set_minor_formatter(NullFormatter())
        axes.set_xlim(ROC_LIMIT, 1)
        axes.set_ylim(ROC_LIMIT, 1)
        axes.set_aspect("equal")
        axes.set_xlabel("false-positive rate (non-members flagged)")
        axes.set_ylabel("true-positive rate (members found)")
        axes.set_title(title, fontsize=10)
        axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=1, fontsize=7.5, frameon=False, handlelength=3)
        return figure_to_svg(figure, plot_id, f"ROC curves on log-log axes: {title}")


def histogram_svg(result: AttackResult, is_member: np.ndarray, *, plot_id: str, title: str) -> tuple[str, dict]:
    """Member vs non-member score histograms of one attack, on robust bins.

    Scores are clipped to :func:`clip_range` of all audited records (the
    0.5–99.5 percentile range, at most 5 IQRs beyond the quartiles) so that a
    few extreme values (a loss near 700, say) do not squash the rest; clipped
    records land in the edge bins. Each group is
    normalised to its own size, so unequal group sizes compare fairly.

    Returns
    -------
    svg : str
        An ``<svg class="plot">`` element.
    clipping : dict
        ``low``, ``high`` (the range) and ``n_clipped`` (records outside it),
        for the caption.
    """
    from matplotlib.figure import Figure

    is_member = np.asarray(is_member, dtype=bool)
    scores = np.asarray(result.scores, dtype=np.float64)
    finite = np.isfinite(scores)
    low, high = clip_range(scores[finite]) if finite.any() else (-0.5, 0.5)
    clipped = np.clip(np.where(finite, scores, np.where(scores > 0, high, low)), low, high)
    n_clipped = int(((scores < low) | (scores > high) | ~finite).sum())
    bins = np.linspace(low, high, 41)
    with plot_style(plot_id):
        figure = Figure(figsize=(5.0, 3.6))
        axes = figure.add_subplot()
        for mask, colour, name in ((~is_member, "#7f7f7f", "non-members"), (is_member, "#d62728", "members")):
            values = clipped[mask]
            weights = np.full(values.size, 1.0 / max(values.size, 1))
            axes.hist(values, bins=bins, weights=weights, histtype="stepfilled", alpha=0.35, color=colour)
            axes.hist(values, bins=bins, weights=weights, histtype="step", linewidth=1.3, color=colour,
                      label=f"{name} (n={values.size:,})")
        axes.set_xlim(low, high)
        axes.set_xlabel(f"membership score of {result.attack} (higher = more likely member)")
        axes.set_ylabel("fraction of group")
        axes.set_title(title, fontsize=10)
        axes.legend(loc="best", fontsize=7, frameon=True, framealpha=0.9, edgecolor="#dddddd")
        svg = figure_to_svg(figure, plot_id, f"Score histograms: {title}")
    return svg, {"low": low, "high": high, "n_clipped": n_clipped}


def group_auc_svg(groups, overall_auc: float, *, plot_id: str, title: str) -> str:
    """AUC of each group with its interval as error bars, the overall AUC as a line and chance (0.5) dashed.

    Parameters
    ----------
    groups : list of GroupMetrics
        From :func:`privaudit.metrics.groups.slice_metrics`; groups flagged
        ``too_small`` are listed with a "too small" note and no point.
    overall_auc : float
        AUC of the same attack on all audited records.
    plot_id, title : str
        As for :func:`roc_svg`.

    Returns
    -------
    str
        An ``<svg class="plot">`` element.
    """
    from matplotlib.figure import Figure

    names = [g.name for g in groups]
    rows = np.arange(len(groups))[::-1]  # first group on top
    with plot_style(plot_id):
        figure = Figure(figsize=(5.0, 1.2 + 0.32 * max(len(groups), 1)))
        axes = figure.add_subplot()
        axes.axvline(0.5, color="#888888", linestyle="--", linewidth=1, label="chance (0.5)")
        axes.axvline(overall_auc, color="#1f77b4", linewidth=1.3, label=f"all records ({overall_auc:.3f})")
        low_edge = 0.5
        for row, g in zip(rows, groups, strict=True):
            if g.too_small or g.metrics is None:
                axes.text(0.505, row, "too small", va="center", ha="left", fontsize=7.5, color="#888888")
                continue
            low, high = g.metrics.auc_ci
            low_edge = min(low_edge, low)
            axes.errorbar([g.metrics.auc], [row], xerr=[[g.metrics.auc - low], [high - g.metrics.auc]], fmt="o", color="#d62728",
                          markersize=4, capsize=3, linewidth=1.2)
        axes.set_yticks(rows, names)
        axes.set_ylim(-0.7, len(groups) - 0.3)
        axes.set_xlim(max(0.0, low_edge - 0.02), 1.0)
        axes.set_xlabel("AUC of the best attack within the group (higher = more exposed)")
        axes.set_title(title, fontsize=10)
        axes.grid(axis="y", visible=False)
        axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22 - 0.6 / (1 + len(groups))), ncol=2, fontsize=7.5, frameon=False)
        return figure_to_svg(figure, plot_id, f"AUC per group: {title}")
