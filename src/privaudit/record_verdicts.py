"""Plain-language verdicts of a record check, and how they word a p-value.

A verdict says no more than its test: the p-value (and, with several records,
the Benjamini–Hochberg q-value), how rare such a score is among non-members,
the 95 % upper bound when no null record looked as member-like (the p floor),
what the claim assumes, and — when nothing is found — the test's power.

Bands on the decisive value (q with several records, else p), at level α:

* ``≤ 0.01`` and ``≤ α``: "Strong evidence this record was used in training";
* ``≤ α``: "Moderate evidence ...";
* otherwise "No evidence ...", with the power of the test, since absence of
  evidence is not evidence of absence.

The power is the share of known members with p ≤ α: the chance a training
record is flagged when checked alone. With ``m`` > 1 records checked together
a record is called used only when its Benjamini–Hochberg q ≤ α, which needs
p ≤ α·r/m for some rank r and always holds when p ≤ α/m; so the power of the
verdict actually given lies between the share with p ≤ α/m (the floor) and
the share with p ≤ α. :func:`power_clause` words both, for every check's verdict.

Evidence verdicts state their assumption: the checked record is exchangeable
with the null records (drawn from the same source and period). A record from
another hospital, country or year can score member-like without having been
used.

Example
-------
>>> verdict(0.3, None, 0.05, 0.4, 999).startswith("No evidence")
True
>>> "95 % upper bound" in verdict(1 / 1000, None, 0.05, 0.4, 999)
True
>>> power_clause("this test detects about {power} of training records at α = 0.05", 0.29, 0.05, 12, 0.08)
'this test detects about 29 % of training records at α = 0.05 checked alone; checked with the other 11, between 8 % (p ≤ α/12 = 0.0042) and 29 %'
"""

from __future__ import annotations

from privaudit.metrics.pvalues import zero_count_upper_bound

__all__ = ["STRONG_EVIDENCE", "EXCHANGEABILITY", "format_p_value", "power_clause", "verdict", "withheld_verdict"]

#: verdict band on the (adjusted) p-value
STRONG_EVIDENCE = 0.01
#: the assumption every "evidence this record was used" verdict states
EXCHANGEABILITY = ("This assumes the record is exchangeable with the null records (same source and period): "
                   "a record from another source or time can look member-like without having been used.")


def format_p_value(p: float) -> str:
    """Two significant figures, scientific below 1e-4: ``0.0037``, ``2.0e-05``."""
    return f"{p:.2g}" if p >= 1e-4 else f"{p:.1e}"


def _share(rate: float) -> str:
    return f"{100 * rate:.2g} %"


def power_clause(stem: str, power: float, alpha: float, multiple: int = 1, floor: float | None = None) -> str:
    """The clause of a verdict that quotes its test's power, with the Benjamini–Hochberg floor when ``multiple`` > 1.

    Parameters
    ----------
    stem : str
        The clause for one checked item, with ``{power}`` where the percentage
        goes ("this test detects about {power} of training records at α = 0.05").
    power : float
        Share of known members with p ≤ ``alpha`` (the item checked alone).
    alpha : float
        The level (false-discovery rate when ``multiple`` > 1).
    multiple : int
        How many items were checked together (Benjamini–Hochberg across them).
    floor : float, optional
        Share of the same members with p ≤ ``alpha / multiple``: Benjamini–Hochberg
        rejects every such p whatever the other items' p-values, so the chance a
        training item is called used lies between ``floor`` and ``power``. Left
        out (or ``multiple`` = 1): the stem alone.
    """
    text = stem.replace("{power}", f"{100 * power:.0f} %")
    if multiple > 1 and floor is not None and floor == floor:  # floor == floor: not NaN
        text += (f" checked alone; checked with the other {multiple - 1:,}, between {100 * floor:.0f} % "
                 f"(p ≤ α/{multiple:,} = {format_p_value(alpha / multiple)}) and {100 * power:.0f} %")
    return text


def verdict(p: float, q: float | None, alpha: float, power: float | None, n_null: int, multiple: int = 1, *,
            null_records: str = "null records", caveat: str | None = None, power_floor: float | None = None) -> str:
    """A plain-language verdict for one record.

    Parameters
    ----------
    p : float
        The record's decisive p-value (one-sided; small = member-like).
    q : float or None
        Its Benjamini–Hochberg q-value when ``multiple`` > 1 records were checked.
    alpha : float
        Significance level (false-discovery rate when ``multiple`` > 1).
    power : float or None
        Fraction of known training records this test flags at ``alpha``.
    n_null : int
        Real records behind ``p`` (the real null's size, or the ``N`` records
        a fabricated null was fitted on); the smallest reachable p is
        ``1/(n_null + 1)``.
    multiple : int
        How many records were checked together.
    null_records : str
        What the ``n_null`` records are, in words ("real non-members", ...).
    caveat : str, optional
        A clause added after the p-value (e.g. a fabricated p counted at the
        smallest checked level).
    power_floor : float, optional
        Share of the same known training records with p ≤ ``alpha / multiple``;
        with ``multiple`` > 1 the "No evidence" verdict quotes it beside
        ``power`` (:func:`power_clause`).

    Notes
    -----
    At the floor (0 of ``n_null`` null records scored at least as high), the
    verdict gives the exact one-sided 95 % Clopper–Pearson upper bound on the
    share of non-members that would, ``1 − 0.05^(1/n)`` ≈ 3/n
    (:func:`~privaudit.metrics.pvalues.zero_count_upper_bound`), not "1 in n".
    """
    decisive = q if (multiple > 1 and q is not None) else p
    floor = 1 / (n_null + 1)
    at_floor = p <= floor * (1 + 1e-9)
    p_text = f"p {'≤' if at_floor else '='} {format_p_value(p)}"
    if caveat:
        p_text += f"; {caveat}"
    if multiple > 1 and q is not None:
        p_text += f", q = {format_p_value(q)} after Benjamini–Hochberg across {multiple} records"
    if at_floor:
        bound = zero_count_upper_bound(n_null)
        how_rare = (f"none of {n_null:,} {null_records} looked this member-like and {format_p_value(floor)} is the smallest p "
                    f"this null can give; at most {_share(bound)} of non-members (about 1 in {round(1 / bound):,}) look this "
                    f"member-like (95 % upper bound: one-sided Clopper–Pearson on 0 of {n_null:,})")
    elif p < 0.1:
        how_rare = f"about 1 in {max(1, round(1 / p)):,} people who were not in training look this member-like"
    else:  # "1 in 1" says nothing; a share does
        how_rare = f"about {100 * p:.0f} % of people who were not in training look at least this member-like"
    if decisive <= alpha:
        strength = "Strong evidence" if decisive <= STRONG_EVIDENCE else "Moderate evidence"
        return f"{strength} this record was used in training ({p_text}: {how_rare}). {EXCHANGEABILITY}"
    power_text = (
        power_clause(f"this test detects about {{power}} of training records at α = {alpha:g}", power, alpha, multiple, power_floor)
        + " (power measured on the audit's members)"
        if power is not None else "the power of this test is unknown"
    )
    return (
        f"No evidence this record was used in training ({p_text}: {how_rare}). "
        f"This is not evidence that the record was not used: {power_text}."
    )


def withheld_verdict(p: float, reason: str) -> str:
    """The verdict when the null behind ``p`` failed its own calibration check: nothing is claimed either way."""
    return f"Verdict withheld: {reason} (fabricated-null p = {format_p_value(p)} is neither evidence of use nor of non-use)."
