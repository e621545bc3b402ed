"""The group-vulnerability part of the reports: plain-words disparity and the HTML section's values.

Renders :class:`privaudit.metrics.groups.TargetGroups`; computes nothing new
except counting how many of the most exposed records fall in each group.
"""

from __future__ import annotations

from privaudit.metrics.groups import MIN_GROUP_MEMBERS, MIN_GROUP_NONMEMBERS, Disparity, TargetGroups
from privaudit.report.formatting import auc_text

__all__ = ["disparity_sentence", "correction_text", "group_context", "GROUP_TABLE_FPRS"]

#: FPRs shown in the per-group tables when the audit computed them.
GROUP_TABLE_FPRS = (0.01, 0.001)


def _names(groups) -> str:
    quoted = [f"“{g}”" for g in groups]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def correction_text(found: Disparity) -> str:
    """How the claim was tested, in words: e.g. 'each group was tested against the rest of the records ..., Holm-corrected over 6 groups ...'."""
    level = f"{100.0 * found.alpha:.3g}%" if found.alpha is not None else "the stated level"
    return (f"each group was tested against the rest of the records (DeLong variances, logit AUC) and the tests Holm-corrected over "
            f"{found.n_tests} group{'s' if found.n_tests != 1 else ''} across all slicings of this attack, family-wise α = {level}")


def disparity_sentence(slicing: str, found: Disparity | None, confidence: float) -> str:
    """One or two sentences on the most exposed group of a slicing, for people.

    The highest group AUC is a point estimate (the highest of several is
    optimistic); "works measurably better on this group" is said only for the
    groups whose corrected group-vs-rest test holds (``Disparity.more_exposed_groups``).

    >>> disparity_sentence("sex", None, 0.95).startswith("By sex: no group")
    True
    """
    if found is None:
        return (f"By {slicing}: no group has enough members and non-members (≥ {MIN_GROUP_MEMBERS} and ≥ {MIN_GROUP_NONMEMBERS}) "
                "to measure on its own.")
    head = (f"By {slicing}, the most exposed group is “{found.worst_group}” by point estimate: {auc_text(found.auc, found.auc_ci, confidence)} "
            f"against {found.overall_auc:.3f} on all records ({found.difference:+.3f}).")
    if found.n_tests == 0:
        return head + (" It is the only group large enough to measure." if found.n_groups_compared < 2 else
                       " No group was tested against the rest of the records, so none is claimed to be more exposed.")
    if found.more_exposed_groups:
        return head + (f" The attack works measurably better on {_names(found.more_exposed_groups)} than on the rest of the records:"
                       f" {correction_text(found)}.")
    return head + (f" This sample does not show any group of this slicing to be more exposed than the rest of the records:"
                   f" {correction_text(found)}. The highest of {found.n_groups_compared} groups is expected to lie above"
                   " the overall AUC even when all groups leak alike.")


def _cells(metrics, fprs) -> list:
    cells = []
    for fpr in fprs:
        op = None if metrics is None else metrics.operating_points.get(fpr)
        cells.append(None if op is None else {
            "supported": op.supported, "tpr": op.tpr, "ci": op.ci, "fpr_realised": op.fpr_realised,
            "true_positives": op.true_positives, "false_positives": op.false_positives,
        })
    return cells


def group_context(analysis: TargetGroups, *, overall_auc: float, fprs, confidence: float, show_records: bool, plot_prefix: str) -> dict:
    """Values the template's group section shows for one target (tables, sentences, SVG charts).

    ``records`` (the most exposed record ids with their group labels) is
    ``None`` unless ``show_records``; without it each group row still counts
    how many of those records fall in the group.
    """
    from markupsafe import Markup

    from privaudit.report.plots import group_auc_svg

    table_fprs = [f for f in fprs if f in GROUP_TABLE_FPRS] or list(fprs)[-2:]
    slicings = []
    for index, (name, slicing) in enumerate(analysis.slicings.items()):
        labels = analysis.labels.get(name)
        rows = []
        for g in slicing.groups:
            rows.append({
                "group": g.name, "n_members": g.n_members, "n_nonmembers": g.n_nonmembers, "too_small": g.too_small,
                "reason": g.reason, "auc": g.auc, "auc_ci": g.auc_ci, "cells": _cells(g.metrics, table_fprs),
                "n_exposed": None,
                "worst": slicing.disparity is not None and g.name == slicing.disparity.worst_group,
                "more_exposed": bool(g.test is not None and g.test.more_exposed),
                "p_adjusted": None if g.test is None else g.test.p_adjusted,
            })
        slicings.append({
            "name": name,
            "rows": rows,
            "sentence": disparity_sentence(name, slicing.disparity, confidence),
            "more_exposed": bool(slicing.disparity is not None and slicing.disparity.more_exposed_groups),
            "chart": Markup(group_auc_svg(slicing.groups, overall_auc,
                                          plot_id=f"{plot_prefix}-{index}", title=f"{analysis.target}: AUC by {name}")),
            "labels": labels,
        })
    records = None
    top_labels = {s["name"]: [str(s["labels"][i]) for i in analysis.exposed_index] for s in slicings if s["labels"] is not None}
    for s in slicings:
        s.pop("labels")
        if s["name"] in top_labels:  # how many of the most exposed records fall in each group (a count, no ids)
            for row in s["rows"]:
                row["n_exposed"] = top_labels[s["name"]].count(row["group"])
    if show_records:
        records = [{**r, "groups": [top_labels[name][i] if name in top_labels else "—" for name in analysis.slicings]}
                   for i, r in enumerate(analysis.most_exposed)]
    return {"attack": analysis.attack, "fprs": table_fprs, "slicings": slicings, "n_exposed": len(analysis.most_exposed),
            "records": records, "slicing_names": list(analysis.slicings)}
