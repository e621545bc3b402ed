"""Terminal summary with rich: per target, a table of attacks and the verdict."""

from __future__ import annotations

from privaudit.pipeline import AuditResult
from privaudit.metrics import MIN_EXPECTED_FALSE_POSITIVES
from privaudit.report.formatting import (
    confidence_label, count, epsilon_note, epsilon_value, fpr_label, min_nonmembers, percent, percent_range, queries_text,
)
from privaudit.report.text_section import print_text_section
from privaudit.report.verdict import badge, grade, show_epsilon, verdict

__all__ = ["print_summary"]

_UNSUPPORTED_MARK = "†"

#: verdict style per badge class: the colour follows the grade
_STYLES = {"severe": "bold white on red", "leak": "bold red", "weak": "bold yellow", "none": "bold", "undetermined": "bold",
           "inverted": "bold magenta"}


def _target_table(result: AuditResult, target: str, with_epsilon: bool):
    from rich import box
    from rich.table import Table
    from rich.text import Text

    pool = [r for r in result.results if r.target == target]
    best = result.best(target)
    level = confidence_label(result.confidence)
    table = Table(
        title=f"{target}: {len(pool)} attack{'s' if len(pool) != 1 else ''} (AUC and TPR with {level} CI)",
        title_justify="left", header_style="bold", box=box.SIMPLE_HEAD,
    )
    table.add_column("attack", overflow="fold", min_width=12)
    table.add_column("AUC", justify="right", overflow="fold")
    for fpr in result.fprs:
        table.add_column(f"TPR at\n{fpr_label(fpr)}", justify="right", overflow="fold")
    table.add_column("adv.", justify="right", overflow="fold")
    if with_epsilon:
        table.add_column("ε lb", justify="right", overflow="fold")
    for r in pool:
        m = r.metrics
        cells = [Text(r.attack + (" ★" if r is best else ""), style="bold" if r is best else "")]
        cells.append(Text(f"{m.auc:.3f}\n") + Text(f"{m.auc_ci[0]:.3f}–{m.auc_ci[1]:.3f}", style="dim"))
        for fpr in result.fprs:
            op = m.operating_points.get(fpr)
            if op is None:
                cells.append(Text("—", style="dim"))
            elif op.supported:
                cells.append(Text(f"{percent(op.tpr)}\n") + Text(percent_range(*op.ci), style="dim"))
            else:
                cells.append(Text(f"n/a{_UNSUPPORTED_MARK}", style="dim"))
        cells.append(Text(f"{m.advantage:.3f}"))
        eps = m.epsilon_lower_bound
        if not with_epsilon:
            pass
        elif eps is None:
            cells.append(Text("—", style="dim"))
        else:
            cells.append(Text(f"{epsilon_value(eps.epsilon_lb)}\n") + Text("bound" if eps.valid else "heuristic", style="dim"))
        table.add_row(*cells)
    return table


def _group_lines(result: AuditResult, target: str) -> list:
    """One line per slicing: the most exposed group against all records (nothing without groups)."""
    from rich.text import Text

    analysis = result.groups.get(target)
    if analysis is None:
        return []
    level = confidence_label(result.confidence)
    lines = []
    for name, slicing in analysis.slicings.items():
        d = slicing.disparity
        if d is None:
            lines.append(Text(f"By {name}: no group large enough to measure.", style="dim"))
            continue
        mark = "more exposed than the rest, Holm-corrected" if d.more_exposed else "not shown more exposed"
        lines.append(Text(f"By {name}: most exposed “{d.worst_group}”, AUC {d.auc:.3f} ({level} CI {d.auc_ci[0]:.3f}–{d.auc_ci[1]:.3f}) "
                          f"vs {d.overall_auc:.3f} overall ({d.difference:+.3f}, {mark}; {d.n_groups_compared} group{'s' if d.n_groups_compared != 1 else ''})",
                          style="bold red" if d.more_exposed else ""))
    return lines


def print_summary(result: AuditResult, console=None) -> None:
    """Print, per target, a table of attacks (AUC with CI, TPR at each FPR with CI, advantage) and the verdict.

    Parameters
    ----------
    result : AuditResult
    console : rich.console.Console, optional
        Where to print; a new stdout console by default.

    Notes
    -----
    A TPR at an FPR the sample cannot resolve (fewer than
    ``MIN_EXPECTED_FALSE_POSITIVES`` expected false positives) is printed as a
    dimmed ``n/a†``, with a footnote saying how many non-members it needs.
    """
    from rich.console import Console
    from rich.text import Text

    console = console or Console()
    is_member = result.is_member.astype(bool)
    n_members, n_nonmembers = int(is_member.sum()), int((~is_member).sum())
    if result.text is not None:  # a text audit
        sizes = f"{count(n_members)} member vs {count(n_nonmembers)} non-member texts"
    else:
        sizes = f"{count(n_members)} members vs {count(n_nonmembers)} non-members ({count(result.n_population)} population records)"
    console.print(f"[bold]privaudit[/bold] audit of {sizes}, seed {result.seed}")
    targets = [t.name for t in result.targets if any(r.target == t.name for r in result.results)]
    with_epsilon = show_epsilon(result)
    for target in targets:
        console.print()
        console.print(_target_table(result, target, with_epsilon))
        label, css = badge(grade(result, target))
        console.print(Text(f"Verdict [{label}]: ", style=_STYLES[css]) + Text(verdict(result, target)))
        spent = queries_text(next((t.queries for t in result.targets if t.name == target), None))
        if spent:
            console.print(Text(spent[0].upper() + spent[1:] + ".", style="dim"))
        for line in _group_lines(result, target):
            console.print(line)
        roc = getattr(result, "persons", {}).get(target)
        if roc is not None:  # data with a person column: member vs non-member persons
            tprs = ", ".join(f"TPR {op.tpr:.1%} at {fpr_label(f)} FPR" for f, op in roc.metrics.operating_points.items() if op.supported)
            console.print(Text(f"Persons ({roc.attack}, records combined per person): AUC {roc.metrics.auc:.3f} "
                               f"({confidence_label(result.confidence)} CI {roc.metrics.auc_ci[0]:.3f}–{roc.metrics.auc_ci[1]:.3f})"
                               f"{'; ' + tprs if tprs else ''}; {count(roc.n_member_persons)} member vs {count(roc.n_nonmember_persons)} non-member persons"))
        print_text_section(result, console)
    unsupported = [f for f in result.fprs if n_nonmembers * f < MIN_EXPECTED_FALSE_POSITIVES]
    if unsupported and targets:
        needs = "; ".join(f"{fpr_label(f)} needs ≥ {count(min_nonmembers(f, MIN_EXPECTED_FALSE_POSITIVES))}" for f in unsupported)
        console.print()
        console.print(
            Text(
                f"{_UNSUPPORTED_MARK} not supported: a TPR at FPR f is reported only when non-members × f ≥ "
                f"{MIN_EXPECTED_FALSE_POSITIVES} ({needs} non-members; this audit has {count(n_nonmembers)}).",
                style="dim",
            )
        )
    if targets:
        console.print(Text("★ best attack by AUC (its figures are quoted in the verdict; the claim itself is corrected over all "
                           "attacks); TPR at f: true-positive rate at false-positive rate f; adv.: membership advantage max(TPR − FPR).",
                           style="dim"))
        eps_entries = [r.metrics.epsilon_lower_bound for r in result.results if r.metrics.epsilon_lower_bound is not None]
        if eps_entries and with_epsilon:
            console.print(Text(epsilon_note(eps_entries[0].valid, eps_entries[0].delta, eps_entries[0].confidence), style="dim"))
        elif eps_entries:
            console.print(Text("ε: only a heuristic estimate here (membership was not randomised); it is in report.json, "
                               "labelled heuristic, and not shown beside the verdict.", style="dim"))
