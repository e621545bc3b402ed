"""Person-level membership tests: was *this person's* data (several records) used in training?

A person contributes ``k`` records. Each record has a membership score (higher
= more member-like) from any attack; this module combines a person's records
into one statistic and compares it with **null persons of the same size** —
persons whose records are surely not in training.

The statistic
-------------
* With per-record log-likelihood ratios ``λ(x) = log Pr(x | member) / Pr(x | non-member)``
  (``checked_llr`` / ``null_llr``), the person's statistic is their sum,
  ``T(P) = Σ_{x ∈ P} λ(x)`` — the user-inference statistic of Kandpal et al.
  2023 ("User Inference Attacks on Large Language Models", §3: the likelihood
  ratio of a user's samples, which under independence given membership is the
  product of per-sample ratios, hence the sum of their logarithms).
* Otherwise (scores that are not calibrated ratios), every record of the pool
  of checked and null records is replaced by the normal score of its rank,
  ``z(x) = Φ⁻¹((r(x) − ½) / N)`` (``r`` the mid-rank among the ``N`` pooled
  records, ties averaged), and ``T(P) = Σ_{x ∈ P} z(x)`` (a van der Waerden
  sum). The transform is a symmetric function of the pool, so swapping a
  checked person's records with a null person's leaves every other record's
  value unchanged: exchangeability of persons — and so the p-value's
  validity — survives it, while one extreme score cannot swamp the others.

Null persons (``null_how`` says which rule each size used)
---------------------------------------------------------
For a person with ``k`` records:

1. with person ids for the null records (``null_persons``): the real
   non-member persons with exactly ``k`` null records, when there are at
   least ``min_null_persons`` of them (default :data:`MIN_NULL_PERSONS`);
2. else the non-member persons with at least ``k`` records, each reduced to a
   seeded random ``k`` of them (this assumes that which records a person has
   does not change how member-like they score, e.g. that a person observed 5
   years scores like one observed 3 years on 3 of them);
3. without person ids (``null_persons=None``): disjoint seeded random groups
   of ``k`` null records. This assumes a person's records are independent of
   each other given membership; records of one person that share a person
   effect (the same patient over several years) are *more* alike than random
   groups, so random groups give too narrow a null and too small p-values.
   Use real null persons whenever the data has them.

Null persons whose id is a checked person's id, or is in ``exclude``, are left
out of every null (so a checked person is never part of her own null).

The p-value
-----------
``p = (1 + #{null persons of size k with T ≥ t}) / (1 + n_k)`` (ties count
against the person), valid — ``Pr[p ≤ u] ≤ u`` — when the checked person is
exchangeable with the null persons. The smallest reachable p is
``1 / (1 + n_k)``: with fewer than ``1/α − 1`` null persons no p can reach
``α`` and no verdict is possible (:meth:`PersonTests.can_reach`). With no null
person at all p is 1.

Example
-------
>>> import numpy as np
>>> t = person_tests(np.array([6.5, 5.5]), np.array(["ann", "ann"]), np.arange(8.0), np.repeat(list("abcd"), 2),
...                  min_null_persons=1)
>>> t.persons, t.n_records.tolist(), t.p_value.tolist()
(['ann'], [2], [0.4])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from privaudit.exceptions import DataError
from privaudit.metrics.pvalues import power_and_bh_floor

__all__ = ["MIN_NULL_PERSONS", "PersonTests", "PersonPower", "person_tests", "person_power", "person_statistics", "normal_scores", "group_codes"]

#: null persons with exactly k records are used when at least this many exist (else persons with ≥ k records, reduced)
MIN_NULL_PERSONS = 100


@dataclass
class PersonTests:
    """Per-person results of :func:`person_tests`, in the order persons first appear.

    ``persons`` (ids), ``n_records``, ``statistic``, ``p_value``,
    ``n_null_persons`` (null persons of the person's size), ``null_how`` (one
    sentence: how that size's null persons were drawn) are aligned per person.
    ``method`` is ``"llr_sum"`` or ``"normal_scores"``; ``null_statistics`` maps
    each size to its null persons' statistics; ``left_out`` counts null persons
    left out (checked or excluded ids).
    """

    persons: list
    n_records: np.ndarray
    statistic: np.ndarray
    p_value: np.ndarray
    n_null_persons: np.ndarray
    null_how: list
    method: str
    null_statistics: dict = field(default_factory=dict, repr=False)
    left_out: int = 0

    def for_size(self, k: int) -> PersonTests:
        """The persons with exactly ``k`` records (same fields, same order)."""
        keep = np.flatnonzero(self.n_records == k)
        return PersonTests([self.persons[i] for i in keep], self.n_records[keep], self.statistic[keep], self.p_value[keep],
                           self.n_null_persons[keep], [self.null_how[i] for i in keep], self.method,
                           {k: self.null_statistics[k]} if k in self.null_statistics else {}, self.left_out)

    def can_reach(self, alpha: float) -> np.ndarray:
        """Per person: can any p reach ``alpha``? (``1 / (1 + n_null) ≤ alpha``, i.e. at least ``1/α − 1`` null persons)."""
        return 1.0 / (1.0 + self.n_null_persons) <= alpha * (1 + 1e-12)


class PersonPower(NamedTuple):
    """Power of the person test for persons of one size (:func:`person_power`).

    ``value``: share of member persons with ``p ≤ alpha`` (``ci95`` its 95 %
    Clopper–Pearson interval) over ``n_member_persons``; ``floor``: share with
    ``p ≤ alpha / multiple`` (``floor_ci95``), the Bonferroni level, below which
    Benjamini–Hochberg over ``multiple`` checked persons always rejects — a lower
    bound on the chance a member person is called used, ``value`` an upper one.
    Equal to ``value`` when ``multiple`` is 1.
    """

    value: float
    ci95: tuple
    n_member_persons: int
    floor: float
    floor_ci95: tuple


def group_codes(ids) -> tuple[list, np.ndarray]:
    """Ids as strings → (distinct ids in first-appearance order, code of each element)."""
    text = np.asarray([str(x) for x in np.asarray(ids, dtype=object).ravel()], dtype=object)
    if text.size == 0:
        return [], np.zeros(0, dtype=np.intp)
    _, first, inverse = np.unique(text, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return [str(text[first[i]]) for i in order], rank[inverse.ravel()]


def normal_scores(values: np.ndarray) -> np.ndarray:
    """van der Waerden scores ``Φ⁻¹((r − ½)/N)`` of the mid-ranks ``r`` (ties averaged) of ``values``, same shape."""
    from scipy.special import ndtri
    from scipy.stats import rankdata

    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return values.copy()
    return ndtri((rankdata(values, method="average") - 0.5) / values.size)


def person_statistics(values: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
    """``T`` of each group: the sum of its records' ``values`` (shape ``(n_groups,)``)."""
    return np.bincount(codes, weights=values, minlength=n_groups)


def _finite(name: str, values) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64).ravel()
    if not np.all(np.isfinite(array)):
        raise DataError(f"{name} must be finite (a NaN or infinite score cannot be ranked against the null)")
    return array


def _random_k(codes: np.ndarray, counts: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Boolean mask keeping a seeded random ``k`` records of each group with ≥ ``k`` records (others dropped)."""
    keys = rng.random(codes.size)
    order = np.lexsort((keys, codes))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank_in_group = np.empty(codes.size, dtype=np.intp)
    rank_in_group[order] = np.arange(codes.size) - starts[codes[order]]
    return (rank_in_group < k) & (counts[codes] >= k)


def _null_for_size(k, values, codes, counts, has_persons, min_null_persons, rng):
    """Statistics of the null persons of size ``k`` and one sentence saying how they were drawn."""
    if not has_persons:
        n_groups = values.size // k
        picked = rng.permutation(values.size)[: n_groups * k]
        stats = values[picked].reshape(n_groups, k).sum(axis=1) if n_groups else np.zeros(0)
        return stats, (f"{n_groups:,} null persons of {k} record(s): disjoint seeded random groups of {k} of the {values.size:,} "
                       f"null records (the data has no person column; this assumes a person's records are independent given "
                       f"membership — records sharing a person effect make this null too narrow and its p-values too small)")
    exact = np.flatnonzero(counts == k)
    if exact.size >= min_null_persons:
        return person_statistics(values, codes, counts.size)[exact], (
            f"{exact.size:,} real non-member persons with exactly {k} record(s)")
    keep = _random_k(codes, counts, k, rng)
    wide = np.flatnonzero(counts >= k)
    stats = person_statistics(values[keep], codes[keep], counts.size)[wide]
    if wide.size == 0:
        return stats, f"no real non-member person has {k} or more records: no null, so p = 1"
    return stats, (f"{wide.size:,} real non-member persons with at least {k} records, each reduced to a seeded random {k} "
                   f"(only {exact.size:,} have exactly {k}, fewer than {min_null_persons:,}; this assumes which records a "
                   f"person has does not change how member-like they score)")


def person_tests(checked_scores, checked_persons, null_scores, null_persons=None, *, seed: int = 0, checked_llr=None,
                 null_llr=None, exclude=None, min_null_persons: int = MIN_NULL_PERSONS) -> PersonTests:
    """One p-value per checked person against null persons of the same size (see the module docstring).

    Parameters
    ----------
    checked_scores : array, shape (m,)
        Per-record membership scores of the checked records (higher = more member-like).
    checked_persons : array, shape (m,)
        Person id of each checked record (compared as strings).
    null_scores : array, shape (n,)
        Scores of real non-member records.
    null_persons : array, shape (n,), optional
        Their person ids; ``None`` when the data has no person structure
        (null persons are then disjoint seeded random groups, and ``null_how`` says so).
    seed : int
        Seeds the random groups and the reduction of larger persons to ``k`` records.
    checked_llr, null_llr : array, optional
        Per-record log-likelihood ratios (both or neither); the statistic is
        then their sum per person (Kandpal et al. 2023), else the sum of the
        records' normal scores in the pooled checked + null ranking.
    exclude : iterable of str, optional
        Person ids left out of the null (beside the checked persons' own ids).
    min_null_persons : int
        Null persons with exactly ``k`` records needed to use them alone.

    Returns
    -------
    PersonTests
    """
    scores = _finite("checked scores", checked_scores)
    null = _finite("null scores", null_scores)
    if (checked_llr is None) != (null_llr is None):
        raise DataError("give log-likelihood ratios for both the checked and the null records, or for neither")
    persons, codes = group_codes(checked_persons)
    if codes.size != scores.size:
        raise DataError(f"{scores.size} checked scores but {codes.size} person ids: give one person id per checked record")
    if scores.size == 0:
        raise DataError("no checked records: a person check needs at least one record")
    if min_null_persons < 1:
        raise DataError(f"min_null_persons must be at least 1, got {min_null_persons}")
    has_persons = null_persons is not None
    left_out = 0
    if has_persons:
        null_ids = np.asarray([str(x) for x in np.asarray(null_persons, dtype=object).ravel()], dtype=object)
        if null_ids.size != null.size:
            raise DataError(f"{null.size} null scores but {null_ids.size} null person ids: give one person id per null record")
        drop = set(persons) | {str(x) for x in (exclude or ())}
        keep = np.array([x not in drop for x in null_ids], dtype=bool)
        left_out = len(set(null_ids[~keep]))
        null, null_ids = null[keep], null_ids[keep]
    if checked_llr is not None:
        method = "llr_sum"
        values = _finite("checked log-likelihood ratios", checked_llr)
        null_values = _finite("null log-likelihood ratios", null_llr)
        if values.size != scores.size or null_values.size != np.asarray(null_scores).size:
            raise DataError("log-likelihood ratios must come one per checked record and one per null record")
        if has_persons:
            null_values = null_values[keep]
    else:
        method = "normal_scores"
        pooled = normal_scores(np.concatenate([scores, null]))
        values, null_values = pooled[: scores.size], pooled[scores.size:]
    n_checked = len(persons)
    statistic = person_statistics(values, codes, n_checked)
    sizes = np.bincount(codes, minlength=n_checked)
    if has_persons:
        _, null_codes = group_codes(null_ids)
        null_counts = np.bincount(null_codes) if null_codes.size else np.zeros(0, dtype=np.intp)
    else:
        null_codes, null_counts = np.arange(null_values.size), np.ones(null_values.size, dtype=np.intp)
    p_value = np.ones(n_checked)
    n_null = np.zeros(n_checked, dtype=np.intp)
    how_by_size: dict[int, str] = {}
    null_statistics: dict[int, np.ndarray] = {}
    for k in np.unique(sizes):
        k = int(k)
        rng = np.random.default_rng([seed, 7, k])
        stats, how_by_size[k] = _null_for_size(k, null_values, null_codes, null_counts, has_persons, min_null_persons, rng)
        null_statistics[k] = stats
        at = np.flatnonzero(sizes == k)
        ordered = np.sort(stats)
        at_least = ordered.size - np.searchsorted(ordered, statistic[at], side="left")
        p_value[at] = (1.0 + at_least) / (1.0 + ordered.size)
        n_null[at] = ordered.size
    return PersonTests(persons, sizes, statistic, p_value, n_null, [how_by_size[int(k)] for k in sizes], method,
                       null_statistics, left_out)


def person_power(member_scores, member_persons, null_scores, null_persons, sizes, alpha: float, *, seed: int = 0,
                 member_llr=None, null_llr=None, min_null_persons: int = MIN_NULL_PERSONS,
                 min_member_persons: int = 20, multiple: int = 1) -> dict:
    """Power of the person test at ``alpha`` for persons of each size in ``sizes``, measured on member persons.

    Member persons of size ``k`` are those with exactly ``k`` member records
    when at least ``min_member_persons`` exist, else those with at least ``k``
    reduced to a seeded random ``k`` (the rule of the null). Each is tested
    with :func:`person_tests` against the null persons (one size at a time, so
    the pooled ranks are those of the members of that size and the null).

    ``multiple``: how many persons are checked together (Benjamini–Hochberg
    across them); the floor counts the same member persons' ``p ≤ alpha / multiple``
    (one run of the tests gives both).

    Returns
    -------
    dict
        ``{k: PersonPower(power, (ci_low, ci_high), n_member_persons, floor, (floor_low, floor_high))}``:
        the share of member persons with ``p ≤ alpha`` (and with ``p ≤ alpha / multiple``)
        and its 95 % Clopper–Pearson interval; ``(nan, (0.0, 1.0), 0, nan, (0.0, 1.0))``
        when no member person has ``k`` records.
    """
    if int(multiple) < 1:
        raise ValueError(f"multiple must be at least 1, got {multiple}")
    scores = _finite("member scores", member_scores)
    member_ids = np.asarray([str(x) for x in np.asarray(member_persons, dtype=object).ravel()], dtype=object)
    _, codes = group_codes(member_ids)
    if codes.size != scores.size:
        raise DataError(f"{scores.size} member scores but {codes.size} member person ids")
    llr = None if member_llr is None else _finite("member log-likelihood ratios", member_llr)
    counts = np.bincount(codes) if codes.size else np.zeros(0, dtype=np.intp)
    out = {}
    for k in sorted({int(k) for k in sizes}):
        exact = counts[codes] == k if codes.size else np.zeros(0, dtype=bool)
        if np.unique(codes[exact]).size >= min_member_persons:
            keep = exact
        else:
            keep = _random_k(codes, counts, k, np.random.default_rng([seed, 11, k])) if codes.size else exact
        if not keep.any():
            out[k] = PersonPower(float("nan"), (0.0, 1.0), 0, float("nan"), (0.0, 1.0))
            continue
        tests = person_tests(scores[keep], member_ids[keep], null_scores, null_persons, seed=seed,
                             checked_llr=None if llr is None else llr[keep], null_llr=null_llr,
                             min_null_persons=min_null_persons)
        power, ci, floor, floor_ci = power_and_bh_floor(tests.p_value, alpha, multiple)
        out[k] = PersonPower(power, ci, len(tests.persons), floor, floor_ci)
    return out
