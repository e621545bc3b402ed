"""Plain-words verdicts and the caveats every report carries.

A verdict reads one target's best result (highest AUC) and says what it shows
and no more: leakage only when the AUC interval excludes chance, and never
"private" when it does not.
"""

from __future__ import annotations

from privaudit.audit import AttackResult, AuditResult
from privaudit.exceptions import UnknownNameError
from privaudit.metrics import MIN_EXPECTED_FALSE_POSITIVES, OperatingPoint
from privaudit.report.formatting import auc_text, confidence_label, count, fpr_label, min_nonmembers, percent, percent_range

__all__ = ["verdict", "leaks", "report_notes", "lowest_supported_point"]


def _results_for(result: AuditResult, target_name: str) -> list[AttackResult]:
    pool = [r for r in result.results if r.target == target_name]
    if not pool:
        known = ", ".join(sorted({r.target for r in result.results})) or "none"
        raise UnknownNameError(f"no results for target '{target_name}'; targets in this audit: {known}")
    return pool


def leaks(result: AuditResult, target_name: str) -> bool:
    """True when the lower end of the best attack's AUC interval lies above 0.5."""
    _results_for(result, target_name)
    return result.best(target_name).metrics.auc_ci[0] > 0.5


def lowest_supported_point(best: AttackResult) -> OperatingPoint | None:
    """The operating point at the lowest target FPR the sample supports, or None."""
    supported = [op for op in best.metrics.operating_points.values() if op.supported]
    return min(supported, key=lambda op: op.target_fpr) if supported else None


def _tpr_sentence(best: AttackResult, confidence: float, subject: str) -> str:
    point = lowest_supported_point(best)
    m = best.metrics
    if point is None:
        smallest = min(m.operating_points) if m.operating_points else None
        if smallest is None:
            return ""
        needed = min_nonmembers(smallest, MIN_EXPECTED_FALSE_POSITIVES)
        return (
            f" There are too few non-members ({count(m.n_nonmembers)}) to quote a true-positive rate at the requested "
            f"false-positive rates (at {fpr_label(smallest)} that needs at least {count(needed)})."
        )
    text = (
        f" At {fpr_label(point.target_fpr)} false positives {subject} identifies {percent(point.tpr)} of training records "
        f"({confidence_label(confidence)} CI {percent_range(*point.ci)})"
    )
    if point.ci[0] <= point.target_fpr:
        text += f", which is not clearly above the {fpr_label(point.target_fpr)} a random guess would flag"
    return text + "."


def _low_fpr_exception(best: AttackResult, confidence: float) -> str:
    """A sentence for the case AUC shows nothing but a supported low-FPR point does."""
    above = [
        op for op in best.metrics.operating_points.values() if op.supported and op.ci[0] > op.fpr_ci[1]
    ]
    if not above:
        return ""
    op = min(above, key=lambda p: p.target_fpr)
    return (
        f" However, at {fpr_label(op.target_fpr)} false positives the attack identifies {percent(op.tpr)} of training records "
        f"({confidence_label(confidence)} CI {percent_range(*op.ci)}), more than it flags non-members "
        f"({percent(op.fpr_realised)}): a small set of records may be exposed even though the AUC is near chance."
    )


def _masking_sentence(result: AuditResult, target_name: str) -> str:
    """For a leaking target that answers labels only: hiding confidence did not stop the attack."""
    summary = next((t for t in result.targets if t.name == target_name), None)
    if summary is None or summary.output_kind != "labels":
        return ""
    return (" The target answers predicted labels only (its confidence is hidden), yet membership still leaks: "
            "masking the confidence scores did not stop membership inference.")


def verdict(result: AuditResult, target_name: str) -> str:
    """One paragraph in plain words on whether ``target_name`` leaks membership.

    Parameters
    ----------
    result : AuditResult
    target_name : str

    Returns
    -------
    str
        Based on the target's best result by AUC. If the AUC interval's lower
        end exceeds 0.5 the text says the model leaks membership, quoting the
        AUC with its interval, the sample sizes and the TPR at the lowest
        supported FPR; otherwise it says no leakage was measurable with these
        attacks at this sample size, and that this is not proof of privacy.

    Raises
    ------
    UnknownNameError
        If the audit has no results for ``target_name``.
    """
    pool = _results_for(result, target_name)
    best = result.best(target_name)
    m = best.metrics
    k = len(pool)
    sizes = f"{count(m.n_members)} members vs {count(m.n_nonmembers)} non-members"
    auc = auc_text(m.auc, m.auc_ci, m.confidence)
    if m.auc_ci[0] > 0.5:
        who = f"the best of {k} attacks ({best.attack})" if k > 1 else f"the attack {best.attack}"
        text = f"This model leaks membership: {who} separates members from non-members with {auc}, on {sizes}."
        text += _tpr_sentence(best, m.confidence, "the best attack" if k > 1 else "the attack")
        if k > 1:
            text += f" Picking the best of {k} attacks on the same records makes these figures slightly optimistic."
        return text + _masking_sentence(result, target_name)
    which = f"best of {k} attacks: {best.attack}" if k > 1 else f"attack {best.attack}"
    text = f"No measurable leakage with these attacks at this sample size ({which}, {auc}, on {sizes})."
    if m.auc_ci[1] < 0.5:
        text += " The AUC lies below 0.5, so this attack's scores point the wrong way; that is unusual and worth checking."
    text += _low_fpr_exception(best, m.confidence)
    text += (
        " This is not proof that the model is private: stronger attacks "
        "(reference-model attacks such as LiRA) may find more."
    )
    return text


def report_notes(result: AuditResult) -> list[str]:
    """Caveats that apply to every figure in the report, in plain words."""
    n_nonmembers = int((~result.is_member.astype(bool)).sum())
    per_target = {r.target for r in result.results}
    k = max((sum(r.target == t for r in result.results) for t in per_target), default=0)
    notes = [
        "Scores: for every attack a higher score means the record is more likely a member (training record).",
        (
            f"Each target's verdict uses its best attack by AUC (best of up to {k} here), chosen on the same records "
            "it is evaluated on; choosing the best of several attacks this way is slightly optimistic."
        ),
        (
            "The threshold behind each TPR at a fixed FPR is chosen on the evaluated records themselves, which makes "
            "the TPR slightly optimistic, most of all at low FPR."
        ),
        (
            f"A TPR at target FPR f is marked supported only when n_nonmembers × f ≥ {MIN_EXPECTED_FALSE_POSITIVES} "
            f"(MIN_EXPECTED_FALSE_POSITIVES); with fewer non-members the sample cannot resolve that FPR and the figure is "
            f"flagged. This audit has {count(n_nonmembers)} non-members."
        ),
        (
            f"Intervals are {confidence_label(result.confidence)}: AUC by stratified percentile bootstrap; TPR and FPR "
            "by the exact Clopper–Pearson interval at the chosen threshold (not accounting for how it was chosen)."
        ),
        (
            "No measurable leakage is not proof of privacy: these are attacks without reference models; stronger "
            "attacks (reference-model attacks such as LiRA) may find more."
        ),
    ]
    return notes
