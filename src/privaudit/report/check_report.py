"""Record checks (:mod:`privaudit.record_check`) as JSON, a terminal table and an HTML section."""

from __future__ import annotations

from privaudit.record_check import CheckResult
from privaudit.record_verdicts import format_p_value
from privaudit.report.formatting import floor_cell, power_floor_sentence
from privaudit.report.json_values import bh_floor_entry, person_power_entry

__all__ = ["check_result_to_dict", "print_check", "check_context"]



def check_result_to_dict(result: CheckResult) -> dict:
    """JSON-ready form of a :class:`CheckResult`."""
    return {
        "target": result.target, "attack": result.attack, "null": result.null, "alpha": result.alpha,
        "n_null": result.n_null,
        "n_real_records": {"value": result.n_real_records,
                           "meaning": "real records behind each null's p-values (the fabricated null's floor is 1/(N + 1) for these N)"},
        "withheld": result.withheld,
        "power": {"value": result.power, "ci95": list(result.power_ci), "n_members": result.n_members,
                  "meaning": "fraction of the audit's members (online: of the members sampled into the design) with p ≤ alpha under the same null (one test, uncorrected)",
                  "bh_floor": bh_floor_entry(result.power_floor, result.power_floor_ci, result.alpha / max(1, len(result.records)))},
        "multiple_testing_note": result.multiple_testing_note, "notes": result.notes,
        "fidelity": result.fidelity,
        "reference": result.reference,
        "records": [
            {"id": r.record_id, "score": r.score, "likelihood_ratio": r.likelihood_ratio, "p_values": r.p_values,
             "p_value": r.p_value, "q_value": r.q_value, "significant": r.significant, "verdict": r.verdict}
            for r in result.records
        ],
        **({} if result.persons is None else {"persons": [
            {"person": v.person, "n_records": v.n_records, "statistic": v.statistic, "p_value": v.p_value, "q_value": v.q_value,
             "significant": v.significant, "verdict": v.verdict, "power": person_power_entry(v.power, v.power_ci, v.n_member_persons, v.n_records, floor=v.power_floor, floor_ci=v.power_floor_ci,
                                                                                      floor_alpha=result.alpha / len(result.persons)),
             "n_null_persons": v.n_null_persons, "null_how": v.null_how}
            for v in result.persons
        ]}),
    }


def print_check(result: CheckResult, console=None) -> None:
    """Terminal table: id, score, p, q, verdict; then power, the multiple-testing note and fidelity."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = console or Console()
    table = Table(title=Text(f"{result.target} · {result.attack} · null: {result.null} ({', '.join(f'{k} n={v:,}' for k, v in result.n_null.items())})"))
    for column in ("id", "score", "p", "q", "verdict"):
        table.add_column(column, overflow="fold")
    for r in result.records:
        table.add_row(Text(r.record_id), f"{r.score:.4g}", format_p_value(r.p_value), format_p_value(r.q_value), Text(r.verdict))
    console.print(table)
    if result.persons is not None:
        persons = Table(title=Text(f"persons · {len(result.persons)} checked · null: real non-member persons with as many records"))
        for column in ("person", "records", "statistic", "p", "q", "power (95 % CI, n)", "verdict"):
            persons.add_column(column, overflow="fold")
        for v in result.persons:
            power = "n/a" if v.power is None else (f"{100 * v.power:.0f} % ({100 * v.power_ci[0]:.0f}–{100 * v.power_ci[1]:.0f}, {v.n_member_persons:,})"
                                                   + floor_cell(v.power_floor, len(result.persons)))
            persons.add_row(Text(v.person), str(v.n_records), f"{v.statistic:.4g}", format_p_value(v.p_value), format_p_value(v.q_value),
                            power, Text(v.verdict))
        console.print(persons)
    if result.withheld:
        console.print(Text("verdicts withheld: the fabricated null is not calibrated for this model: use the real null (--null real)", style="bold red"))
    low, high = result.power_ci
    console.print(Text(f"power at α = {result.alpha:g}: {100 * result.power:.1f} % of {result.n_members:,} known training records flagged (95 % CI {100 * low:.1f}–{100 * high:.1f} %)"))
    floor = power_floor_sentence(result.power_floor, result.power_floor_ci, result.alpha, len(result.records), "records")
    if floor:
        console.print(Text(floor))
    console.print(Text(result.multiple_testing_note))
    if result.reference is not None:
        r = result.reference
        console.print(Text(f"reference models: {r['mode']}, {r['n_models']} models ({r['trained']} trained, {r['reused']} reused from the store); "
                           f"pool {r['pool']:,} = {r['checked']:,} checked + {r['null']:,} null + {r['power']:,} power + {r['population']:,} population"))
    for note in result.notes:
        console.print(Text(f"note: {note}"))
    if result.fidelity is not None:
        console.print(Text(f"fabricated profiles: {result.fidelity.get('summary', '(no summary)')}"))
        if "score_check" in result.fidelity:
            console.print(Text(f"fabricated null: {result.fidelity['score_check']['summary']}"))


def check_context(result: CheckResult, *, truth: dict | None = None) -> dict:
    """What the HTML report shows of one record check: plain values only.

    ``truth`` (record id → True for a member) adds a "truly" column; the demo
    knows it, a real check does not.
    """
    rows = []
    for r in result.records:
        rows.append({
            "id": r.record_id, "score": f"{r.score:.4g}",
            "likelihood_ratio": None if r.likelihood_ratio is None else f"{r.likelihood_ratio:.3g}",
            "p": format_p_value(r.p_value), "q": format_p_value(r.q_value), "significant": r.significant, "verdict": r.verdict,
            "truly": None if truth is None or r.record_id not in truth else ("member" if truth[r.record_id] else "non-member"),
        })
    low, high = result.power_ci
    m = len(result.records)
    return {
        "target": result.target, "attack": result.attack, "null": result.null, "alpha": f"{result.alpha:g}",
        "n_null": ", ".join(f"{k}: {v:,}" + (f" (from {result.n_real_records[k]:,} real records)" if k == "fabricated" and k in result.n_real_records else "")
                            for k, v in result.n_null.items()),
        "withheld": result.withheld,
        "rows": rows, "has_ratio": any(r["likelihood_ratio"] is not None for r in rows), "has_truth": truth is not None,
        "power": f"{100 * result.power:.1f} % (95 % CI {100 * low:.1f}–{100 * high:.1f} %) of {result.n_members:,} known training records",
        "power_floor": power_floor_sentence(result.power_floor, result.power_floor_ci, result.alpha, m, "records"),
        "multiple_testing_note": result.multiple_testing_note, "notes": list(result.notes),
        "fidelity": None if result.fidelity is None else result.fidelity.get("summary"),
        "score_check": None if result.fidelity is None else (result.fidelity.get("score_check") or {}).get("summary"),
        "persons": None if result.persons is None else [
            {"person": v.person, "n_records": v.n_records, "statistic": f"{v.statistic:.4g}", "p": format_p_value(v.p_value),
             "q": format_p_value(v.q_value), "significant": v.significant, "verdict": v.verdict,
             "power": "—" if v.power is None else f"{100 * v.power:.0f} % ({100 * v.power_ci[0]:.0f}–{100 * v.power_ci[1]:.0f} %, "
                                                   f"{v.n_member_persons:,} member persons)" + floor_cell(v.power_floor, len(result.persons))}
            for v in result.persons
        ],
    }
