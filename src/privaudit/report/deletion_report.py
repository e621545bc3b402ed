"""Deletion checks (:mod:`privaudit.deletion_check`) as JSON and a terminal table."""

from __future__ import annotations

from privaudit.deletion_check import DeletionResult
from privaudit.report.json_values import bh_floor_entry, person_power_entry

__all__ = ["deletion_result_to_dict", "print_deletion"]


def deletion_result_to_dict(result: DeletionResult) -> dict:
    """JSON-ready form of a :class:`~privaudit.deletion_check.DeletionResult`: a ``deletion`` block per person (or record)."""
    key = "persons" if result.by_person else "records"
    entries = []
    floor_alpha = result.alpha / max(1, len(result.persons))
    for p in result.persons:
        entries.append({
            "person" if result.by_person else "id": p.person, "n_records": p.n_records,
            "statistic": p.statistic_after, "p_value": p.p_after, "q_value": p.q_after, "significant": p.still_detectable,
            "verdict": p.verdict,
            "power": person_power_entry(p.power, p.power_ci, result.power.get(p.n_records, (None, None, None))[2], p.n_records, model="the pre-deletion model's ",
                                        floor=p.power_floor, floor_ci=p.power_floor_ci, floor_alpha=floor_alpha),
            "deletion": {"before_statistic": p.statistic_before, "before_p_value": p.p_before, "before_q_value": p.q_before, "delta": p.delta,
                         "p_drop": p.p_drop, "q_drop": p.q_drop, "n_null_persons": p.n_null_persons},
        })
    return {
        "kind": "deletion", "target": result.target, "before": result.before, "attack": result.attack, "alpha": result.alpha,
        "statistic": {"method": result.method,
                      "meaning": "llr_sum: sum of the records' log-likelihood ratios (Kandpal et al. 2023); normal_scores: sum of "
                                 "the records' normal scores in the pooled checked + null ranking"},
        "delta_meaning": "delta = statistic after − statistic before; p_drop = (1 + #{null persons' delta ≤ delta}) / (1 + n_null_persons): "
                         "small means this person's evidence fell more than real non-members' did, as a deletion would make it",
        "null_how": {str(k): v for k, v in result.null_how.items()},
        "power_by_size": {str(k): {"value": v[0], "ci95": list(v[1]), "n_member_persons": v[2],
                                   "bh_floor": bh_floor_entry(v[3], v[4], floor_alpha)} for k, v in result.power.items()},
        "still_detectable": result.still_detectable, "notes": result.notes, key: entries,
    }


def print_deletion(result: DeletionResult, console=None) -> None:
    """Terminal table: person, records, p after, p before, Δ, p_drop, verdict; then how the nulls were drawn."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = console or Console()
    table = Table(title=Text(f"deletion check · after: {result.target} · before: {result.before} · {result.attack}"))
    for column in ("person" if result.by_person else "id", "records", "p after", "q after", "p before", "q before", "Δ", "p_drop", "verdict"):
        table.add_column(column, overflow="fold")
    for p in result.persons:
        table.add_row(Text(p.person), str(p.n_records), f"{p.p_after:.3g}", f"{p.q_after:.3g}", f"{p.p_before:.3g}", f"{p.q_before:.3g}", f"{p.delta:+.3g}",
                      f"{p.p_drop:.3g}", Text(p.verdict))
    console.print(table)
    console.print(f"still detectable after deletion: {result.still_detectable} of {len(result.persons)} (q ≤ {result.alpha:g})")
    for k, how in result.null_how.items():
        console.print(Text(f"null for {k} record(s): {how}"))
    for note in result.notes:
        console.print(Text(f"note: {note}"))
