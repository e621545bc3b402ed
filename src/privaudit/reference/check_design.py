"""Who trains on what for an *online* record check (``privaudit check --mode online``).

An online check (Carlini et al. 2022, LiRA online; Zarifzadeh et al. 2024,
RMIA online) needs reference models in which each checked record is IN some
models and OUT of the others. Its null must be built the same way: a real
non-member used as a null record is exchangeable with a checked non-member
only if both sit in the same design. :func:`check_online_design` therefore
puts into one pool, each IN a seeded random half of the models
(:func:`~privaudit.reference.design.reference_keep_mask`):

1. every checked record (duplicates by record id kept once);
2. the **null**: a seeded sample of the audit's real non-members that are not
   checked records (by id, or by content: features and label);
3. the **power** sample: a seeded sample of the audit's members that are not
   checked records (their p-values measure the check's power);
4. population records that are not checked records, to fill the pool up to
   ``2·M``.

``M`` (``train_size``) is the target's training size, so a model trains on
half the pool, at most ``M`` records — "like the target". The pool is kept at
``2·M`` or fewer; the sizes are (``B = 2·M − n_checked``)::

    n_null  = min(#non-members, max(B // 2, min(NULL_TARGET, 3·B // 4)))
    n_power = min(#members, B − n_null)
    n_fill  = min(#population, B − n_null − n_power)

so the null gets half the free seats, at least ``NULL_TARGET`` (= 800, what
a KS test of uniformity needs) while that leaves a quarter of the seats for
the power sample, which takes the rest; population records fill what the
members cannot (a model trains on half the pool, so the pool, not its
make-up, sets the models' size; online RMIA compares with all the data's
population records whether they are in the pool or not). ``n_null`` /
``n_power`` override the rule.

``groups`` (the person of each checked record, with ``data.person_ids``)
makes the design person-level: null, power and fill records are drawn as
whole persons (persons of checked records excluded), and a person's records
are IN or OUT together, every person IN ``⌊n_models/2 + ½⌋`` models; the
models' training sizes are then balanced in persons, not records, so they
can differ from ``M`` by the spread of person sizes
(``CheckDesign.model_sizes`` says what they are).

Example
-------
>>> from privaudit.datasets import make_synthetic_tabular
>>> from privaudit.data import audit_data_from_frame
>>> frame = make_synthetic_tabular(400, seed=0)
>>> frame["split"] = ["member"] * 100 + ["nonmember"] * 200 + ["population"] * 100
>>> data = audit_data_from_frame(frame, label="label", id_column="record_id", membership_column="split", features=["x0", "x1"])
>>> design = check_online_design(data.records.subset(data.nonmembers[:2]), data, 4, seed=0, train_size=100)
>>> design.sizes()
{'pool': 200, 'checked': 2, 'null': 148, 'power': 50, 'population': 0}
>>> design.keep.shape, design.keep.sum(axis=1).tolist()[:3], design.model_sizes.tolist()
((200, 4), [2, 2, 2], [100, 100, 100, 100])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from privaudit.data import RecordSet, concat_records
from privaudit.exceptions import ConfigError, DataError
from privaudit.reference.design import reference_keep_mask

__all__ = ["CheckDesign", "check_online_design", "NULL_TARGET", "MIN_ONLINE_NULL"]

#: null records an online check aims for (a KS test over ~800 p-values resolves a miscalibration of a few %)
NULL_TARGET = 800
#: fewest null records an online check runs with (its smallest p-value is 1/(n + 1))
MIN_ONLINE_NULL = 20


@dataclass(frozen=True)
class CheckDesign:
    """The pool and in/out mask of an online check, and which pool rows play which part.

    Attributes
    ----------
    pool : RecordSet
        Checked, null, power and population records, in that order, unique record ids.
    keep : ndarray of bool, shape (len(pool), n_models)
        ``keep[i, k]``: pool record ``i`` trains reference model ``k``.
    checked, null, power, population : ndarray of int
        Rows of ``pool`` for each part (``checked`` in the order of the checked records, one row per
        checked record: a duplicate id points at the same row).
    how : str
        One sentence: the pool's make-up and the design.
    """

    pool: RecordSet
    keep: np.ndarray
    checked: np.ndarray
    null: np.ndarray
    power: np.ndarray
    population: np.ndarray
    how: str

    @property
    def model_sizes(self) -> np.ndarray:
        """Training records per model, shape ``(n_models,)``."""
        return self.keep.sum(axis=0)

    def sizes(self) -> dict:
        """``{"pool", "checked", "null", "power", "population"}`` record counts (unique checked records)."""
        return {"pool": len(self.pool), "checked": int(np.unique(self.checked).size), "null": int(self.null.size),
                "power": int(self.power.size), "population": int(self.population.size)}


def _sample(rng: np.random.Generator, positions: np.ndarray, n: int, persons: np.ndarray | None) -> np.ndarray:
    """``n`` of ``positions`` at random, or with ``persons`` (one per position) whole persons of at most ``n`` records in all."""
    if n >= positions.size:
        return positions.copy()
    if persons is None:
        return np.sort(rng.choice(positions, size=n, replace=False))
    names, codes = np.unique(persons, return_inverse=True)
    order = rng.permutation(names.size)
    taken = order[np.cumsum(np.bincount(codes, minlength=names.size)[order]) <= n]
    return np.sort(positions[np.isin(codes, taken)])


def _content_keys(records: RecordSet) -> np.ndarray:
    """One 64-bit hash per record of its features and label (records equal in content get equal keys)."""
    import pandas as pd

    frame = pd.DataFrame(records.features).reset_index(drop=True).assign(__label=np.asarray(records.labels))
    return pd.util.hash_pandas_object(frame, index=False).to_numpy()


def _refuse_different_records_under_one_id(checked: RecordSet, ids: np.ndarray, unique_rows: np.ndarray) -> None:
    """A repeated id enters the pool once, so every row under it must be the same record (else it would be scored as IN models that never saw it)."""
    import pandas as pd

    rows = pd.DataFrame(checked.features).reset_index(drop=True).assign(__label=checked.labels, __id=ids)
    distinct = rows.drop_duplicates()
    clash = distinct["__id"].duplicated()
    if clash.any():
        rid = distinct["__id"][clash].iloc[0]
        raise DataError(f"--records: id '{rid}' names {int((distinct['__id'] == rid).sum())} different records; an online check trains "
                        "each checked record into models by its id: give each record its own id (or drop the id column)")


def check_online_design(checked: RecordSet, data, n_models: int, *, seed: int, train_size: int | None = None, n_null: int | None = None,
                        n_power: int | None = None, groups=None) -> CheckDesign:
    """Pool and mask for an online check of ``checked`` against ``data`` (an :class:`~privaudit.data.AuditData`).

    Parameters
    ----------
    checked : RecordSet
        Records to check (ids may repeat or be records of ``data``: each id enters the pool once).
    data : AuditData
        Members (power sample), non-members (null) and population records (fill).
    n_models : int
        Reference models (≥ 2: each record must be IN some and OUT of others).
    seed : int
        Seeds the samples and the mask: the same arguments give the same design (and store keys).
    train_size : int, optional
        The target's training size M (default: ``data``'s number of members); the pool holds at most 2·M.
    n_null, n_power : int, optional
        Null and power sample sizes instead of the rule in the module docstring.
    groups : array of shape (len(checked),), optional
        Person of each checked record; needs ``data.person_ids``. Null, power and fill samples are then whole
        persons (not those of checked records), and each person's records are IN or OUT together
        (``reference_keep_mask(groups=...)``).

    Returns
    -------
    CheckDesign
    """
    m = int(train_size if train_size is not None else data.members.size)
    if m < 1:
        raise DataError("an online check trains reference models like the target, on as many records as its members, and the data has no members")
    if n_models < 2:
        raise ConfigError(f"an online check needs at least 2 reference models (each record IN some, OUT of others), got {n_models}")
    ids = np.asarray(checked.ids).astype(str)
    _, first = np.unique(ids, return_index=True)
    unique_rows = np.sort(first)
    n_checked = unique_rows.size
    if n_checked < ids.size:
        _refuse_different_records_under_one_id(checked, ids, unique_rows)
    _, inverse, counts = np.unique(_content_keys(checked.subset(unique_rows)), return_inverse=True, return_counts=True)
    if (counts > 1).any():  # one record under two ids: two pool rows IN different models would leak into each other's OUT models
        inverse = inverse.ravel()
        twice = ids[unique_rows][inverse == inverse[np.flatnonzero(counts[inverse] > 1)[0]]]
        raise DataError(f"--records: the same record is given under the ids {', '.join(map(repr, twice[:2].tolist()))}; an online check "
                        "trains each checked record into models once: give each record once")
    budget = 2 * m - n_checked
    if budget < MIN_ONLINE_NULL:
        raise DataError(f"an online check keeps its pool within twice the target's {m:,} training records, and {n_checked:,} checked records "
                        f"leave {max(budget, 0):,} places for the null (at least {MIN_ONLINE_NULL} needed); check fewer records at a time")
    taken = set(ids.tolist())
    record_ids = np.asarray(data.records.ids).astype(str)
    free = np.array([rid not in taken for rid in record_ids], dtype=bool)
    # a checked record given under another id (or without one) is still that record: a copy of it in the null or power sample
    # would be IN models where the checked record is OUT
    free &= ~np.isin(_content_keys(data.records), _content_keys(checked))
    persons = None
    if groups is not None:
        if getattr(data, "person_ids", None) is None:
            raise ConfigError(f"--person-column with --mode online: the audit data ({data.source}) has no person column, so null persons "
                              "cannot be real non-member persons; set data.person_column in the config to that file's column of person ids")
        if np.size(groups) != ids.size:
            raise DataError(f"a person-level online design needs one person per checked record ({np.size(groups)} given for {ids.size})")
        persons = np.asarray(data.person_ids).astype(str)
        free &= ~np.isin(persons, np.asarray(groups).astype(str))  # a checked person's other records stay out of null and power
    nonmembers, members, population = (p[free[p]] for p in (data.nonmembers, data.members, data.population))
    if n_null is None:
        n_null = min(nonmembers.size, max(budget // 2, min(NULL_TARGET, 3 * budget // 4)))
    if n_null > min(nonmembers.size, budget) or n_null < MIN_ONLINE_NULL:
        raise DataError(f"an online check needs between {MIN_ONLINE_NULL} and {min(nonmembers.size, budget):,} null records "
                        f"(real non-members that are not checked; {nonmembers.size:,} available), got {n_null:,}")
    if n_power is None:
        n_power = min(members.size, budget - n_null)
    n_power = max(0, min(int(n_power), members.size, budget - n_null))
    if n_power < 1:
        why = (f"every member of the data is a checked record{' or a checked person' if groups is not None else ''}" if members.size == 0
               else "the null takes every free place in the pool")
        raise DataError(f"an online check measures its power on members it places in the design beside the checked records, and none is "
                        f"left ({why}); check fewer records at a time, or add members to the audit data")
    n_fill = min(population.size, budget - n_null - n_power)
    rng = np.random.default_rng([int(seed), 0xC0E])
    null, power, fill = (_sample(rng, p, n, None if persons is None else persons[p]) for p, n in ((nonmembers, n_null), (members, n_power), (population, n_fill)))
    pool = concat_records([checked.subset(unique_rows), data.records.subset(np.concatenate([null, power, fill]))])
    pool_persons = None if persons is None else np.r_[np.asarray(groups).astype(str)[unique_rows], persons[np.concatenate([null, power, fill])]]
    keep = reference_keep_mask(len(pool), n_models, seed=seed, train_size=m, groups=pool_persons)
    row_of = {rid: i for i, rid in enumerate(ids[unique_rows])}
    parts = np.cumsum([n_checked, null.size, power.size, fill.size])
    how = (f"online check design: {len(pool):,} pool records ({n_checked:,} checked, {null.size:,} real non-members as the null, "
           f"{power.size:,} members for the power, {fill.size:,} population records), each IN {int(keep[0].sum())} of {n_models} models"
           f"{' with whole persons IN or OUT' if groups is not None else ''}; models train on {int(keep.sum(axis=0).min()):,}–"
           f"{int(keep.sum(axis=0).max()):,} records (the target's training size is {m:,})")
    return CheckDesign(pool=pool, keep=keep, checked=np.array([row_of[r] for r in ids], dtype=np.intp),
                       null=np.arange(parts[0], parts[1]), power=np.arange(parts[1], parts[2]), population=np.arange(parts[2], parts[3]), how=how)
