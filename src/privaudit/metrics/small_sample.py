"""The smallest audit privaudit draws a verdict from, and the AUC interval it uses below that size.

Below ``MIN_MEMBERS`` members or ``MIN_NONMEMBERS`` non-members no report
claims leakage *or its absence* (``"too few records to conclude"``), and the
AUC interval is not the bootstrap one (a percentile bootstrap of 1 member vs
300 non-members "resamples" one record and gives a narrow, meaningless
interval) but :func:`hoeffding_auc_interval`, which is valid at every sample
size and honestly wide.

Why 50 of each
--------------
* **A "none detected" must mean something.** The null standard deviation of
  the AUC with ``n_m = n_n = 50`` is ``sqrt((n+1) / (12 n_m n_n)) ≈ 0.058``;
  one rank test at α = 0.05 then has 80 % power only from an AUC of about
  0.5 + (1.645 + 0.842) · 0.058 ≈ 0.645 — a model leaking less than that
  would pass unnoticed most of the time, and below 50 of each the undetectable
  range grows quickly (≈ 0.70 at 25 + 25).
* **The grading intervals need it.** The grades use DeLong's normal interval
  for the AUC at a Bonferroni level; normal intervals for a Mann–Whitney AUC
  are reasonable from a few dozen records per side and poor below.
* **A leak claim must be about the model, not a handful of records.** With
  one member, "members score higher" is a statement about one record.

These are module constants, so a stricter deployment can raise them.
"""

from __future__ import annotations

import math

__all__ = ["MIN_MEMBERS", "MIN_NONMEMBERS", "HOEFFDING_METHOD", "enough_records", "hoeffding_auc_interval"]

#: Fewest members an audit needs before a verdict claims leakage or its absence.
MIN_MEMBERS = 50
#: Fewest non-members an audit needs before a verdict claims leakage or its absence.
MIN_NONMEMBERS = 50
#: How reports name the small-sample AUC interval.
HOEFFDING_METHOD = "hoeffding"


def enough_records(n_members: int, n_nonmembers: int) -> bool:
    """True when both counts reach ``MIN_MEMBERS`` / ``MIN_NONMEMBERS``."""
    return int(n_members) >= MIN_MEMBERS and int(n_nonmembers) >= MIN_NONMEMBERS


def hoeffding_auc_interval(auc: float, n_members: int, n_nonmembers: int, confidence: float = 0.95) -> tuple[float, float]:
    """Distribution-free two-sided interval for the AUC, valid at any sample size.

    The AUC is a two-sample U-statistic with a kernel bounded in [0, 1];
    Hoeffding (1963, *JASA* 58, §5) shows it concentrates like a mean of
    ``k = min(n_m, n_n)`` independent terms: P(|AUC − θ| ≥ t) ≤ 2 exp(−2 k t²).
    Solving for t at level ``confidence`` gives
    ``AUC ± sqrt(log(2 / (1 − confidence)) / (2 k))``, clipped to [0, 1].

    Examples
    --------
    >>> hoeffding_auc_interval(0.85, 1, 300)   # one member: the data say almost nothing
    (0.0, 1.0)
    >>> lo, hi = hoeffding_auc_interval(0.7, 10, 10); round(lo, 3), round(hi, 3)
    (0.271, 1.0)
    """
    k = min(int(n_members), int(n_nonmembers))
    if k < 1:
        raise ValueError("the AUC needs at least one member and one non-member")
    half_width = math.sqrt(math.log(2.0 / (1.0 - confidence)) / (2.0 * k))
    return max(0.0, float(auc) - half_width), min(1.0, float(auc) + half_width)
