"""Document checks (:mod:`privaudit.pipeline.document_check`) as JSON and a terminal table."""

from __future__ import annotations

from privaudit.pipeline.document_check import DocumentCheck
from privaudit.record_verdicts import format_p_value
from privaudit.report.formatting import floor_cell, power_floor_sentence
from privaudit.report.json_values import bh_floor_entry, person_power_entry

__all__ = ["document_check_to_dict", "print_document_check"]


def document_check_to_dict(result: DocumentCheck) -> dict:
    """JSON-ready form of a :class:`DocumentCheck`: ``documents`` and ``persons`` lists, power, the blind baseline of the null."""
    b = result.blind
    return {
        "target": result.target, "attack": result.attack, "attack_reason": result.attack_reason, "alpha": result.alpha,
        "null": "held-out documents (the config's non-member texts)", "n_null": result.n_null,
        "power": {"value": result.power, "ci95": list(result.power_ci), "n_members": result.n_members,
                  "meaning": "fraction of the config's member texts with p ≤ alpha against the same null (one test, uncorrected)",
                  "bh_floor": bh_floor_entry(result.power_floor, result.power_floor_ci, result.alpha / max(1, len(result.documents)))},
        "blind_baseline": {"ran": b.ran, "n_checked": b.n_checked, "n_null": b.n_null, "auc": b.auc, "auc_ci95": None if b.auc_ci is None else list(b.auc_ci),
                           "p_value": b.p_value, "confounded": b.confounded, "description": b.description, "summary": b.sentence},
        "multiple_testing_note": result.multiple_testing_note, "notes": list(result.notes),
        "documents": [{"id": d.document, "author": d.author, "score": d.score, "p_value": d.p_value, "q_value": d.q_value,
                       "significant": d.significant, "verdict": d.verdict} for d in result.documents],
        "persons": [{"person": a.person, "n_records": a.n_records, "statistic": a.statistic, "p_value": a.p_value, "q_value": a.q_value,
                     "significant": a.significant, "verdict": a.verdict, "power": person_power_entry(a.power, a.power_ci, a.n_member_persons, a.n_records, floor=a.power_floor,
                                                                                      floor_ci=a.power_floor_ci, floor_alpha=result.alpha / len(result.authors)),
                     "n_null_persons": a.n_null_persons, "null_how": a.null_how} for a in result.authors],
    }


def print_document_check(result: DocumentCheck, console=None) -> None:
    """Terminal tables: documents (id, author, score, p, q, verdict), then authors; the blind baseline, power and notes."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = console or Console()
    table = Table(title=Text(f"{result.target} · {result.attack} · null: {result.n_null:,} held-out documents"))
    for column in ("document", "author", "score", "p", "q", "verdict"):
        table.add_column(column, overflow="fold")
    for d in result.documents:
        table.add_row(Text(d.document), Text(d.author or ""), f"{d.score:.4g}", format_p_value(d.p_value), format_p_value(d.q_value), Text(d.verdict))
    console.print(table)
    if result.authors:
        authors = Table(title=Text("authors (all of an author's checked documents together)"))
        for column in ("author", "documents", "p", "q", "power", "verdict"):
            authors.add_column(column, overflow="fold")
        for a in result.authors:
            power = "unknown" if a.power is None else f"{100 * a.power:.0f} % of {a.n_member_persons}" + floor_cell(a.power_floor, len(result.authors))
            authors.add_row(Text(a.person), str(a.n_records), format_p_value(a.p_value), format_p_value(a.q_value), power, Text(a.verdict))
        console.print(authors)
    console.print(Text(f"blind baseline of the null: {result.blind.sentence}", style="bold red" if result.blind.confounded else ""))
    low, high = result.power_ci
    console.print(Text(f"attack: {result.attack_reason}"))
    console.print(Text(f"power at α = {result.alpha:g}: {100 * result.power:.1f} % of {result.n_members:,} known training texts flagged "
                       f"(95 % CI {100 * low:.1f}–{100 * high:.1f} %)"))
    floor = power_floor_sentence(result.power_floor, result.power_floor_ci, result.alpha, len(result.documents), "texts")
    if floor:
        console.print(Text(floor))
    console.print(Text(result.multiple_testing_note))
    for note in result.notes + sorted({a.null_how for a in result.authors}):
        console.print(Text(f"note: {note}"))
