"""Number formatting shared by the verdict, terminal and HTML renderers.

Pure string functions: every figure a report shows passes through here, so the
terminal, HTML page and verdict sentences print the same numbers the same way.
"""

from __future__ import annotations

import math

__all__ = ["percent", "percent_range", "fpr_label", "auc_text", "count", "confidence_label", "min_nonmembers", "epsilon_value", "epsilon_note", "queries_text", "p_value_text", "without_nulls", "power_floor_sentence", "floor_cell"]


def percent(rate: float) -> str:
    """A rate in [0, 1] as a percentage: one decimal from 1 % up, two significant digits below.

    Examples
    --------
    >>> percent(0.0812), percent(0.0037), percent(0.0)
    ('8.1%', '0.37%', '0.0%')
    """
    if rate is None or not math.isfinite(rate):
        return "n/a"
    value = 100.0 * rate
    if value == 0 or value >= 1:
        return f"{value:.1f}%"
    return f"{value:.2g}%"


def percent_range(low: float, high: float) -> str:
    """An interval of rates, e.g. ``'7.6–8.7%'``."""
    return f"{percent(low).rstrip('%')}–{percent(high)}"


def fpr_label(fpr: float) -> str:
    """A target false-positive rate as a short percentage: 0.1 → '10%', 0.0001 → '0.01%'."""
    return f"{100.0 * fpr:.4g}%"


def auc_text(auc: float, ci, confidence: float) -> str:
    """``'AUC 0.733 (95% CI 0.712–0.755)'``."""
    return f"AUC {auc:.3f} ({confidence_label(confidence)} CI {ci[0]:.3f}–{ci[1]:.3f})"


def p_value_text(p: float | None, floor: float | None = None) -> str:
    """A p-value with its relation sign, two significant digits: 0.0005 → ``'= 0.0005'``; None → ``'n/a'``.

    At the smallest value the test can give (``floor``, e.g. 1/(B + 1) for B
    permutations) the true p may be smaller still, so the sign is ``≤``.

    Examples
    --------
    >>> p_value_text(0.0005), p_value_text(0.2345), p_value_text(0.0005, floor=1 / 2000)
    ('= 0.0005', '= 0.23', '≤ 0.0005')
    """
    if p is None or not math.isfinite(p):
        return "n/a"
    if floor is not None and p <= floor * (1 + 1e-9):
        return f"≤ {p:.2g}"
    return f"= {p:.2g}"


def count(n: int) -> str:
    """An integer with thousands separators."""
    return f"{int(n):,}"


def confidence_label(confidence: float) -> str:
    """0.95 → '95%'."""
    return f"{100.0 * confidence:.4g}%"


def min_nonmembers(fpr: float, min_expected_false_positives: int) -> int:
    """Fewest non-members for which a TPR at ``fpr`` counts as supported (``n · fpr ≥ min``)."""
    return int(math.ceil(min_expected_false_positives / fpr - 1e-9))


def epsilon_value(value: float) -> str:
    """An ε lower bound with two decimals (``'∞'`` when unbounded): 5.6 → ``'5.60'``."""
    if value is None:
        return "n/a"
    return f"{value:.2f}" if math.isfinite(value) else "∞"


def epsilon_note(valid: bool, delta: float, confidence: float) -> str:
    """What the ε column means, for a table footnote."""
    level = f"δ = {delta:g}, {confidence_label(confidence)} confidence"
    if valid:
        return (f"ε lb: lower bound on the DP ε ({level}) from one training run with coin-flipped membership "
                "(Steinke, Nasr & Jagielski 2023).")
    return (f"ε lb: heuristic estimate of the DP ε ({level}), from the attack's ROC with a threshold chosen on half the records; "
            "not a proven lower bound, since membership was not randomised by coin flips.")


def _per_record(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def queries_text(queries) -> str:
    """One line on what a target was asked (a :class:`~privaudit.query_signals.QueryCount`), or ``""`` for None.

    Examples
    --------
    >>> from privaudit.query_signals import QueryCount
    >>> queries_text(QueryCount(66, 3, 3, {"outputs": {"total": 3, "per_record": 1.0, "max_per_record": 1},
    ...                                    "boundary_distance:max_radius=4": {"total": 63, "per_record": 21.0, "max_per_record": 64}}))
    'queries spent: 66 total, 22 per record (plain query 1; boundary_distance 21, at most 64)'
    >>> queries_text(QueryCount(38, 2, 2, {"outputs": {"total": 2, "per_record": 1.0, "max_per_record": 1},
    ...                                    "augmentations:flip,shift=1": {"total": 36, "per_record": 18.0, "max_per_record": 18}}))
    'queries spent: 38 total, 19 per record (plain query 1; augmented copies (flip,shift=1) 18)'
    """
    if queries is None:
        return ""
    parts = []
    for key, entry in queries.by_source.items():
        if key == "outputs":
            parts.append(f"plain query {_per_record(entry['per_record'])}")
            continue
        name, _, setting = key.partition(":")
        text = f"{f'augmented copies ({setting})' if name == 'augmentations' else name} {_per_record(entry['per_record'])}"
        if entry.get("max_per_record") is not None and entry["max_per_record"] != entry["per_record"]:
            text += f", at most {count(entry['max_per_record'])}"
        parts.append(text)
    detail = f" ({'; '.join(parts)})" if parts else ""
    return f"queries spent: {count(queries.total)} total, {_per_record(queries.per_record)} per record{detail}"


def without_nulls(value):
    """A copy of a config dump without its unset keys (``None`` values, at any depth), for a page a person reads.

    >>> without_nulls({"data": {"path": "records.csv", "id_column": None}, "attacks": None, "fprs": [0.1, None]})
    {'data': {'path': 'records.csv'}, 'fprs': [0.1, None]}
    """
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


def power_floor_sentence(floor, ci, alpha: float, m: int, items: str) -> str | None:
    """One sentence on the Benjamini–Hochberg floor of a power for ``m`` > 1 checked ``items``; ``None`` when m = 1 or unmeasured.

    >>> power_floor_sentence(0.08, (0.05, 0.12), 0.05, 12, "records")[:60]
    'Checked with the other 11 records, the chance a training rec'
    """
    if m <= 1 or floor is None or floor != floor:
        return None
    return (f"Checked with the other {m - 1:,} {items}, the chance a training {items[:-1]} is called used (Benjamini–Hochberg q ≤ {alpha:g}) "
            f"is at most that power and at least the share with p ≤ α/{m:,} = {alpha / m:.2g}: {100 * floor:.1f} % (95 % CI "
            f"{100 * ci[0]:.1f}–{100 * ci[1]:.1f} %).")


def floor_cell(floor, m: int) -> str:
    """The Benjamini–Hochberg floor added to a power cell (``"; BH ≥ 8 %"``) when ``m`` > 1 items were checked, else ``""``."""
    return "" if m <= 1 or floor is None or floor != floor else f"; BH ≥ {100 * floor:.0f} %"
