"""Person checks: was *this person's* data — all of their records — used to train the target?

``privaudit check CONFIG --records people.csv --person-column COL`` (and
``check_records(..., person_ids=...)``) groups the checked records by person
and tests each person once (:func:`check_persons`):

* **Statistic** (:func:`privaudit.persons.person_tests`): with per-record
  log-likelihood ratios from the attack (RMIA's ``log LR(x)``), their sum over
  the person's records (Kandpal et al. 2023, user inference); else the sum of
  the records' normal scores in the pooled ranking of checked and null records.
* **Null**: *real* non-member persons of the audit data (``data.person_column``
  in the config), scored by the same target and attack, with the same number
  of records as the person (exactly ``k`` when at least
  :data:`~privaudit.persons.MIN_NULL_PERSONS` exist, else persons with more
  records reduced to a random ``k``; ``null_how`` says which). Records of one
  person are correlated (the same patient over years), so random groups of
  non-member records would make too narrow a null: without a person column in
  the audit data the check refuses (one line naming the fix) rather than fall
  back to them.
* **p-value** ``(1 + #{null persons with T ≥ t}) / (1 + n_k)``, a
  Benjamini–Hochberg q-value across the checked persons, and a verdict: "this
  person's data was used" only when q ≤ α; with fewer than ``1/α − 1`` null
  persons of that size no p can reach α and the verdict says no verdict is possible.
* **Power** for a person of that size: the share of the audit's *member*
  persons with ``k`` records whose p ≤ α (:func:`~privaudit.persons.person_power`),
  with its 95 % Clopper–Pearson interval and the number of member persons; with
  ``m`` > 1 checked persons also the share whose p ≤ α/m (``power_floor``): a
  member person is called used (q ≤ α) at least that often and at most at the power.

The record-level results of the same check are kept beside the persons.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from privaudit.exceptions import ConfigError, DataError
from privaudit.image_files import is_image_source
from privaudit.metrics.pvalues import benjamini_hochberg, zero_count_upper_bound
from privaudit.persons import person_power, person_tests
from privaudit.record_verdicts import STRONG_EVIDENCE, format_p_value, power_clause

__all__ = ["PersonVerdict", "check_persons", "person_verdict", "person_ids_from_frame", "PERSON_EXCHANGEABILITY"]

#: the assumption every "this person's data was used" verdict states
PERSON_EXCHANGEABILITY = ("This assumes the person is exchangeable with the null persons (real non-members from the same source "
                          "and period, with as many records): a person from another source or time can look member-like without "
                          "having been used.")


@dataclass(frozen=True)
class PersonVerdict:
    """One checked person: the combined statistic, its p- and q-value, the verdict, and the power for a person of that size."""

    person: str
    n_records: int
    statistic: float
    p_value: float
    q_value: float
    significant: bool
    verdict: str
    power: float | None
    power_ci: tuple[float, float]
    n_member_persons: int
    n_null_persons: int
    null_how: str
    #: share of the same member persons with p ≤ alpha / m (m checked persons; equals ``power`` when m = 1), None when unmeasured
    power_floor: float | None = None
    power_floor_ci: tuple[float, float] | None = None


def person_verdict(p: float, q: float | None, alpha: float, power: float | None, n_null: int, k: int, multiple: int = 1, *,
                   power_floor: float | None = None) -> str:
    """A plain-language verdict for one person of ``k`` records (wording follows :func:`privaudit.record_verdicts.verdict`).

    ``p``: the person's p-value against ``n_null`` null persons of ``k``
    records; ``q``: its Benjamini–Hochberg q-value across ``multiple``
    persons; ``power``: the share of member persons of ``k`` records this test
    flags at ``alpha`` (None when none could be measured); ``power_floor``: their
    share with p ≤ ``alpha / multiple``, quoted beside it when ``multiple`` > 1
    (:func:`privaudit.record_verdicts.power_clause`).
    """
    records = f"{k} record{'s' if k != 1 else ''}"
    floor = 1 / (n_null + 1)
    if floor > alpha * (1 + 1e-12):
        return (f"No verdict possible: only {n_null:,} null person(s) with {records}, so the smallest p this null can give is "
                f"{format_p_value(floor)} > α = {alpha:g}; add real non-member persons with {records} to the audit data.")
    decisive = q if (multiple > 1 and q is not None) else p
    at_floor = p <= floor * (1 + 1e-9)
    p_text = f"p {'≤' if at_floor else '='} {format_p_value(p)} against {n_null:,} non-member persons with {records}"
    if multiple > 1 and q is not None:
        p_text += f", q = {format_p_value(q)} after Benjamini–Hochberg across {multiple} persons"
    if at_floor:
        bound = zero_count_upper_bound(n_null)
        how_rare = (f"none looked this member-like; at most {100 * bound:.2g} % of non-member persons do "
                    f"(95 % upper bound, one-sided Clopper–Pearson on 0 of {n_null:,})")
    elif p < 0.1:
        how_rare = f"about 1 in {max(1, round(1 / p)):,} non-member persons with {records} look this member-like"
    else:
        how_rare = f"about {100 * p:.0f} % of non-member persons with {records} look at least this member-like"
    if decisive <= alpha:
        strength = "Strong evidence" if decisive <= STRONG_EVIDENCE else "Moderate evidence"
        return f"{strength} this person's data was used in training ({p_text}: {how_rare}). {PERSON_EXCHANGEABILITY}"
    power_text = (power_clause(f"this test detects about {{power}} of training persons with {records} at α = {alpha:g}",
                               power, alpha, multiple, power_floor)
                  + " (power measured on the audit's member persons)" if power is not None and np.isfinite(power)
                  else f"its power for persons with {records} is unknown (no member person with {records} to measure it on)")
    return (f"No evidence this person's data was used in training ({p_text}: {how_rare}). "
            f"This is not evidence that it was not used: {power_text}.")


def person_ids_from_frame(frame, person_column: str, source: str, id_column: str | None = None) -> np.ndarray:
    """The person id of each checked record, from the records table (one-line errors name the file and the column).

    Refuses a missing or blank person id, and a record given twice (the same
    ``id_column`` value, or without one the same row): a repeated record would
    count twice in its person's statistic and compare the person with null
    persons of the wrong size.
    """
    if frame is None:
        raise ConfigError("--person-column groups the records of a file: give them with --records FILE (with that column), not --record")
    if person_column not in frame.columns:
        raise DataError(f"{source}: no person column '{person_column}'; columns are: {', '.join(map(str, frame.columns))}")
    ids = frame[person_column].astype(str).str.strip().to_numpy()
    blank = frame[person_column].isna().to_numpy() | (ids == "")
    if blank.any():
        raise DataError(f"{source}: person column '{person_column}' is empty in {int(blank.sum())} row(s) (first: row "
                        f"{int(np.flatnonzero(blank)[0]) + 1}); give every record a person id")
    keys = frame[id_column].astype(str) if id_column is not None and id_column in frame.columns else None
    repeated = (keys.duplicated() if keys is not None else frame.duplicated()).to_numpy()
    if repeated.any():
        row = int(np.flatnonzero(repeated)[0])
        what = f"record '{keys.iloc[row]}' ({id_column})" if keys is not None else "an earlier row"
        raise DataError(f"{source}: row {row + 1} repeats {what}; with --person-column give each record once "
                        f"({int(repeated.sum())} repeated row(s))")
    return ids


def check_persons(data, checked_person_ids, scored: dict, log_ratios: dict | None, *, alpha: float, seed: int, null: str,
                  notes: list[str], null_ids=None, member_ids=None) -> list[PersonVerdict]:
    """Person-level verdicts from one check's per-record scores (see the module docstring).

    Parameters
    ----------
    data : AuditData
        Needs ``person_ids`` (config ``data.person_column``): null persons are
        its real non-member persons, power is measured on its member persons.
    checked_person_ids : array, shape (m,)
        Person of each checked record.
    scored : dict
        Per-record scores of the parts ``"checked"``, ``"members"`` and ``"real"`` (the audit's non-members).
    log_ratios : dict or None
        The same parts' log-likelihood ratios, when the attack gives them for all three parts (anything
        else, e.g. ratios of the checked records alone, combines normal scores instead).
    alpha, seed : float, int
    null : str
        The check's null; person checks use the real one.
    notes : list of str
        Notes are appended here (how the statistic and the null persons were built).
    null_ids, member_ids : array of record ids, optional
        The records behind ``scored["real"]`` / ``scored["members"]`` when they are not all of the data's
        non-members / members in order (an online check scores samples of them); their persons are looked up.
    """
    if null != "real":
        raise ConfigError(f"--person-column tests persons against real non-member persons; use --null real (got --null {null})")
    if data.person_ids is None and data.source and is_image_source(data.source):
        raise ConfigError(f"--person-column: image or array data ({data.source}) carry no person ids (data.person_column does not apply to "
                          "them), so there are no real non-member persons for the null; check the records one by one (leave --person-column out)")
    if data.person_ids is None:
        raise ConfigError(f"--person-column: the audit data ({data.source}) has no person column, so null persons cannot be real "
                          "non-member persons (random groups of records would be too narrow a null); set data.person_column "
                          "in the config to that file's column of person ids")
    checked_person_ids = np.asarray(checked_person_ids).astype(str)
    if checked_person_ids.size != scored["checked"].size:
        raise DataError(f"{checked_person_ids.size} person ids for {scored['checked'].size} checked records")
    null_persons, member_persons = data.person_ids[data.nonmembers], data.person_ids[data.members]
    if null_ids is not None or member_ids is not None:
        person_of = dict(zip(data.records.ids.astype(str), data.person_ids))
        lookup = lambda ids: np.array([person_of[str(i)] for i in ids], dtype=object)  # noqa: E731
        null_persons = null_persons if null_ids is None else lookup(null_ids)
        member_persons = member_persons if member_ids is None else lookup(member_ids)
    if null_persons.size != scored["real"].size or member_persons.size != scored["members"].size:
        raise DataError("person check: the null and member scores do not match the data's non-members and members; pass their record ids")
    usable = isinstance(log_ratios, dict) and all(log_ratios.get(k) is not None for k in ("checked", "real", "members"))
    llr = log_ratios if usable else None
    if llr is not None:
        parts = ("checked", "real", "members")
        if any(np.isnan(llr[k]).any() for k in parts):
            notes.append("the attack's log-likelihood ratios include NaN: persons are combined by normal scores of the records' scores")
            llr = None
        elif any(np.isinf(llr[k]).any() for k in parts):
            # a ratio of 0 or ∞ (a probability of exactly 0): kept in order, finite so that sums stay defined
            notes.append("infinite log-likelihood ratios (a probability of exactly 0 or 1) were counted as ±1e6 in the persons' sums")
            llr = {k: np.clip(llr[k], -1e6, 1e6) for k in parts}
    tests = person_tests(scored["checked"], checked_person_ids, scored["real"], null_persons, seed=seed,
                         checked_llr=None if llr is None else llr["checked"], null_llr=None if llr is None else llr["real"])
    sizes = sorted({int(k) for k in tests.n_records})
    m = len(tests.persons)
    power = person_power(scored["members"], member_persons, scored["real"], null_persons, sizes, alpha, seed=seed,
                         member_llr=None if llr is None else llr["members"], null_llr=None if llr is None else llr["real"], multiple=m)
    notes.append("person statistic: " + ("the sum of the person's per-record log-likelihood ratios (Kandpal et al. 2023, user inference)"
                                         if tests.method == "llr_sum" else
                                         "the sum of the person's records' normal scores in the pooled ranking of checked and null records"))
    for k in sizes:
        how = tests.null_how[int(np.flatnonzero(tests.n_records == k)[0])]
        notes.append(f"null persons for persons with {k} record(s): {how}")
    if tests.left_out:
        notes.append(f"{tests.left_out} checked person(s) are non-member persons of the audit data and were left out of the null")
    q = benjamini_hochberg(tests.p_value) if m > 1 else tests.p_value.copy()
    reachable = tests.can_reach(alpha)
    out = []
    for i, person in enumerate(tests.persons):
        k = int(tests.n_records[i])
        pw, ci, n_members, floor, floor_ci = power[k]
        pw = None if not np.isfinite(pw) else float(pw)
        floor = None if pw is None else float(floor)
        out.append(PersonVerdict(
            person=person, n_records=k, statistic=float(tests.statistic[i]), p_value=float(tests.p_value[i]), q_value=float(q[i]),
            significant=bool(q[i] <= alpha and reachable[i]),
            verdict=person_verdict(float(tests.p_value[i]), float(q[i]) if m > 1 else None, alpha, pw, int(tests.n_null_persons[i]), k, m,
                                   power_floor=floor),
            power=pw, power_ci=(float(ci[0]), float(ci[1])), n_member_persons=int(n_members),
            n_null_persons=int(tests.n_null_persons[i]), null_how=tests.null_how[i],
            power_floor=floor, power_floor_ci=None if floor is None else (float(floor_ci[0]), float(floor_ci[1])),
        ))
    return out
