"""Was it deleted? The same membership test on a model before and after it claims to have forgotten people.

A model owner says it deleted some people's records (retrained without them,
or "unlearned" them). :func:`check_deletion` runs **one** test — the same
attack, the same reference models, the same real non-member null records — on
the post-deletion target (``after``) and on the pre-deletion target
(``before``), and for each checked person (or record) reports:

1. **After**: the person-level test on the post-deletion model
   (:func:`privaudit.persons.person_tests`: the sum of the records'
   log-likelihood ratios when the attack gives them, Kandpal et al. 2023,
   else of their pooled normal scores; null persons of the same size drawn
   from real non-member persons). Significant (Benjamini–Hochberg ``q ≤ α``
   over the checked persons): evidence of the person's records remains.
2. **Before**: the same test on the pre-deletion model (detectable before:
   its Benjamini–Hochberg ``q ≤ α`` over the checked persons, as for the
   after-test), and its power for a
   person of that size (:func:`privaudit.persons.person_power` on the audit's
   member persons, the checked persons left out) — if the person was not
   detectable before deletion, the after-test's silence says nothing. With
   ``m`` > 1 checked persons the power (share of member persons with p ≤ α)
   is an upper bound on the chance a member person is called detectable before
   (q ≤ α); the share with p ≤ α/m (``power_floor``) is a lower bound.
3. **The change** ``Δ = T_after − T_before`` of the person's statistic,
   compared with the changes of the *same* null persons between the two
   models: ``p_drop = (1 + #{null Δ ≤ Δ}) / (1 + n_null)``. Small ``p_drop``:
   this person's evidence fell more than non-members' did — the model changed
   on them as a deletion would. ``p_drop`` is valid (``Pr[p_drop ≤ u] ≤ u``)
   when the checked person's pair (before, after) is exchangeable with the null
   persons' pairs, i.e. for a person the deletion did not concern and who was
   no member of either model; each null person's ``Δ`` is computed from the
   same records in both tests (the same seeded selection), so the pairs match.

Without person ids every checked record is a person of one record and its
null is the real non-member records (a checked record that is a null record
is left out of its own null). Verdicts never outrun the evidence: "still
detectable after deletion" needs the after-test; "the model changed on this
person as a deletion would" needs ``p_drop``; a person the before-test could
not detect gets "cannot tell", with the power for a person of that size.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from privaudit.data import AuditData, RecordSet
from privaudit.exceptions import CapabilityError, ConfigError, DataError
from privaudit.image_files import is_image_source
from privaudit.metrics.pvalues import benjamini_hochberg
from privaudit.persons import PersonPower, person_power, person_tests
from privaudit.record_verdicts import power_clause

__all__ = ["PersonDeletion", "DeletionResult", "deletion_tests", "deletion_verdict", "check_deletion", "run_deletion_check"]


@dataclass(frozen=True)
class PersonDeletion:
    """One checked person (or record): the after- and before-tests, the change and a verdict."""

    person: str
    n_records: int
    statistic_after: float
    p_after: float
    q_after: float
    statistic_before: float
    p_before: float
    q_before: float
    delta: float
    p_drop: float
    q_drop: float
    n_null_persons: int
    power: float
    power_ci: tuple[float, float]
    still_detectable: bool
    verdict: str
    #: share of the pre-deletion model's member persons with p ≤ alpha / m (m checked persons; equals ``power`` when m = 1)
    power_floor: float = float("nan")
    power_floor_ci: tuple[float, float] = (0.0, 1.0)


@dataclass
class DeletionResult:
    """Everything a deletion check reports (``privaudit check --before``)."""

    target: str
    before: str
    attack: str
    alpha: float
    method: str
    persons: list[PersonDeletion]
    null_how: dict
    by_person: bool
    notes: list[str] = field(default_factory=list)
    #: {k: PersonPower(power, (ci_low, ci_high), n_member_persons, floor, floor_ci)} of the before-test for persons
    #: of k records (:func:`person_power`; floor: p ≤ alpha / m over the m checked persons)
    power: dict = field(default_factory=dict)

    @property
    def still_detectable(self) -> int:
        """Checked persons whose after-test is significant (``q_after ≤ α``)."""
        return sum(p.still_detectable for p in self.persons)


def deletion_verdict(p_after: float, q_after: float, p_before: float, p_drop: float, q_drop: float, alpha: float,
                     power: float, n_records: int, *, q_before: float | None = None, multiple: int = 1,
                     power_floor: float | None = None) -> str:
    """The wording of one person's deletion verdict (see the module docstring for the rules).

    ``q_before``: the before-test's Benjamini–Hochberg q over the checked persons (``None``: one checked person,
    where q equals p). "Detectable before" needs ``q_before ≤ α``, like "still detectable after" needs ``q_after ≤ α``:
    with many checked persons, some raw before-p fall below α by chance, and their after-silence would be
    read as evidence of deletion.

    ``multiple``: how many persons were checked; ``power_floor``: the share of member persons with
    p ≤ ``alpha / multiple``, quoted beside ``power`` when ``multiple`` > 1
    (:func:`privaudit.record_verdicts.power_clause`).
    """
    q_before = p_before if q_before is None else q_before
    unit = "person" if n_records > 1 else "record"
    power_text = power_clause(f"the test's power for a {unit} of {n_records} record(s) before deletion is {{power}}", power, alpha,
                              multiple, power_floor) if np.isfinite(power) \
        else f"the test's power for a {unit} of {n_records} record(s) could not be measured (no member of that size)"
    if q_after <= alpha:
        return (f"Still detectable after deletion (p = {p_after:.3g}, q = {q_after:.3g} ≤ {alpha:g}): the post-deletion model "
                f"still treats this {unit}'s records as training data more than it treats real non-members'.")
    after = (f"no trace detectable after deletion (p = {p_after:.3g})" if p_after > alpha else
             f"no significant trace after deletion once every checked {unit} is counted (p = {p_after:.3g}, q = {q_after:.3g} > {alpha:g})")
    if q_before > alpha:
        change = (f"the model did change on this {unit} more than on non-members (p_drop = {p_drop:.3g}, q = {q_drop:.3g})"
                  if q_drop <= alpha else f"change p_drop = {p_drop:.3g}")
        before = (f"was not detectable before deletion either (before p = {p_before:.3g}; {power_text})" if p_before > alpha else
                  f"was not significantly detectable before deletion either once every checked {unit} is counted "
                  f"(before p = {p_before:.3g}, q = {q_before:.3g} > {alpha:g}; {power_text})")
        return (f"Cannot tell: this {unit} {before}, "
                f"so {after} is no evidence that it was deleted; {change}.")
    after = after[0].upper() + after[1:]
    if q_drop <= alpha:
        return (f"{after}, and the model changed on this {unit} as a deletion would: its evidence fell more than "
                f"non-members' did (p_drop = {p_drop:.3g}, q = {q_drop:.3g}); detectable before (p = {p_before:.3g}, q = {q_before:.3g}).")
    return (f"{after}; {power_text}; but the change is not distinguishable from non-members' (p_drop = {p_drop:.3g}): "
            f"detectable before (p = {p_before:.3g}, q = {q_before:.3g}), weaker evidence of deletion.")


def deletion_tests(after, before, persons, null_after, null_before, null_persons, *, member_before=None, member_persons=None,
                   alpha: float = 0.05, seed: int = 0, llr=None, power_sizes=()) -> tuple[list[PersonDeletion], str, dict, dict]:
    """The deletion test on scores (pure numpy; :func:`check_deletion` scores the records).

    Parameters
    ----------
    after, before : array, shape (m,)
        Scores of the checked records on the post- and pre-deletion models (higher = more member-like).
    persons : array, shape (m,)
        Person id of each checked record.
    null_after, null_before : array, shape (n,)
        Scores of the real non-member records on the two models.
    null_persons : array, shape (n,), optional
        Their person ids (``None``: random groups, see :func:`privaudit.persons.person_tests`).
    member_before, member_persons : array, optional
        Scores (pre-deletion model) and person ids of member records, for the power.
    llr : dict, optional
        Log-likelihood ratios ``{"after": (checked, null), "before": (checked, null), "members": member}``;
        when given, statistics sum them (Kandpal et al. 2023).
    power_sizes : iterable of int
        Person sizes to measure the power for besides the checked persons' sizes.

    Returns
    -------
    (list of PersonDeletion, method, {size: how its null persons were drawn}, {size: PersonPower})
    """
    if not 0 < alpha < 1:
        raise ConfigError(f"alpha must lie in (0, 1), got {alpha}")
    llr = llr or {}

    def test(name, checked, null):
        ratios = llr.get(name, (None, None))
        return person_tests(checked, persons, null, null_persons, seed=seed, checked_llr=ratios[0], null_llr=ratios[1])

    t_after, t_before = test("after", after, null_after), test("before", before, null_before)
    delta = t_after.statistic - t_before.statistic
    p_drop = np.ones(len(t_after.persons))
    for k, stats in t_after.null_statistics.items():
        null_delta = np.sort(stats - t_before.null_statistics[k])  # the same null persons, the same records, in the same order
        at = np.flatnonzero(t_after.n_records == k)
        p_drop[at] = (1.0 + np.searchsorted(null_delta, delta[at], side="right")) / (1.0 + null_delta.size)
    q_after = benjamini_hochberg(t_after.p_value) if len(t_after.persons) > 1 else t_after.p_value.copy()
    q_drop = benjamini_hochberg(p_drop) if len(p_drop) > 1 else p_drop.copy()
    q_before = benjamini_hochberg(t_before.p_value) if len(t_before.persons) > 1 else t_before.p_value.copy()
    power = {}
    if member_before is not None and np.asarray(member_before).size:
        sizes = sorted({int(k) for k in t_after.n_records} | {int(k) for k in power_sizes})
        power = person_power(member_before, member_persons, null_before, null_persons, sizes, alpha, seed=seed,
                             member_llr=llr.get("members"), null_llr=llr.get("before", (None, None))[1], multiple=len(t_after.persons))
    results = []
    for i, person in enumerate(t_after.persons):
        k = int(t_after.n_records[i])
        pw, pw_ci, _, floor, floor_ci = power.get(k, PersonPower(float("nan"), (0.0, 1.0), 0, float("nan"), (0.0, 1.0)))
        results.append(PersonDeletion(
            person=str(person), n_records=k, statistic_after=float(t_after.statistic[i]), p_after=float(t_after.p_value[i]),
            q_after=float(q_after[i]), statistic_before=float(t_before.statistic[i]), p_before=float(t_before.p_value[i]),
            q_before=float(q_before[i]),
            delta=float(delta[i]), p_drop=float(p_drop[i]), q_drop=float(q_drop[i]), n_null_persons=int(t_after.n_null_persons[i]),
            power=float(pw), power_ci=(float(pw_ci[0]), float(pw_ci[1])), still_detectable=bool(q_after[i] <= alpha),
            verdict=deletion_verdict(float(t_after.p_value[i]), float(q_after[i]), float(t_before.p_value[i]), float(p_drop[i]),
                                     float(q_drop[i]), alpha, float(pw), k, q_before=float(q_before[i]), multiple=len(t_after.persons),
                                     power_floor=float(floor)),
            power_floor=float(floor), power_floor_ci=(float(floor_ci[0]), float(floor_ci[1])),
        ))
    how = {int(k): t_after.null_how[int(np.flatnonzero(t_after.n_records == k)[0])] for k in np.unique(t_after.n_records)}
    return results, t_after.method, how, power


def check_deletion(after_target, before_target, data: AuditData, records: RecordSet, *, persons=None, data_persons=None, attack=None,
                   reference=None, alpha: float = 0.05, seed: int = 0, power_sizes=(), progress=None) -> DeletionResult:
    """Deletion check of ``records`` on ``after_target`` against ``before_target`` (see the module docstring).

    Parameters
    ----------
    after_target, before_target : privaudit.targets.Target
        The post-deletion model and the model before deletion.
    data : AuditData
        Non-members (the null) and members (the power) of the pre-deletion
        model; population records for attacks that need them.
    records : RecordSet
        The records of the people said to be deleted.
    persons : array, optional
        Person id of each checked record; ``None``: each record is its own person.
    data_persons : array, optional
        Person id of each of ``data.records`` (real null persons; the checked
        persons are left out of the null and of the power's member persons).
        Needed with ``persons``.
    attack, reference
        As for :func:`privaudit.record_check.check_records` (reference attacks run offline on the same reference models for both targets).
    """
    from privaudit.record_check import check_attack

    if len(records) == 0:
        raise DataError("no records to check")
    if (persons is None) != (data_persons is None):
        raise ConfigError("a person-level deletion check needs person ids for the checked records and for the data's records (--person-column)")
    notes: list[str] = []
    attack, reference = check_attack(attack, reference, notes, output_kind=after_target.output_kind, has_population=bool(data.population.size))
    ids = np.asarray([str(x) for x in records.ids], dtype=object)
    checked_persons = ids if persons is None else np.asarray([str(x) for x in persons], dtype=object)
    all_persons = (np.asarray([str(x) for x in data.records.ids], dtype=object) if data_persons is None
                   else np.asarray([str(x) for x in data_persons], dtype=object))
    members = data.members[~np.isin(all_persons[data.members], checked_persons) & ~np.isin(data.records.ids[data.members].astype(str), ids)]
    parts = {"checked": records, "members": data.records.subset(members), "real": data.records.subset(data.nonmembers)}
    from privaudit.pipeline import score_parts

    scored, ratios = {}, {}
    for role, target in (("after", after_target), ("before", before_target)):
        scored[role], ratios[role], _ = score_parts(target, data, attack, parts, plan=reference, seed=seed, progress=progress)
    llr = None
    if ratios["after"] is not None and ratios["before"] is not None:
        values = [ratios[role][part] for role in ("after", "before") for part in ("checked", "real", "members")]
        if any(np.isnan(v).any() for v in values):
            notes.append("the attack's log-likelihood ratios include NaN: persons are combined by normal scores of the records' scores")
        else:
            if any(np.isinf(v).any() for v in values):
                notes.append("infinite log-likelihood ratios (a probability of exactly 0 or 1) were counted as ±1e6 in the persons' sums")
            clip = {role: {part: np.clip(ratios[role][part], -1e6, 1e6) for part in ratios[role]} for role in ("after", "before")}
            llr = {role: (clip[role]["checked"], clip[role]["real"]) for role in ("after", "before")}
            llr["members"] = clip["before"]["members"]
    results, method, how, power = deletion_tests(
        scored["after"]["checked"], scored["before"]["checked"], checked_persons, scored["after"]["real"], scored["before"]["real"],
        all_persons[data.nonmembers], member_before=scored["before"]["members"], member_persons=all_persons[members], alpha=alpha,
        seed=seed, llr=llr, power_sizes=power_sizes)
    if len(results) > 1:
        notes.append(f"{len(results)} {'persons' if persons is not None else 'records'} were checked: q-values (after-test and p_drop) "
                     "are Benjamini–Hochberg adjusted, controlling the false-discovery rate")
    return DeletionResult(target=after_target.name, before=before_target.name, attack=attack.display_name, alpha=alpha, method=method,
                          persons=results, null_how=how, by_person=persons is not None, notes=notes, power=power)


def run_deletion_check(config, base_dir: str | Path, *, records_file: str | Path, target_name: str, before: str,
                       person_column: str | None = None, attack=None, alpha: float = 0.05, power_sizes=(), progress=None) -> DeletionResult:
    """``privaudit check CONFIG --records FILE --target AFTER --before BEFORE [--person-column COL]``: load, then :func:`check_deletion`."""
    from privaudit.attacks.names import configured_attack
    from privaudit.data import read_table
    from privaudit.pipeline import load_inputs
    from privaudit.person_check import person_ids_from_frame
    from privaudit.record_input import check_inputs, records_from_frame

    names = [t.name for t in config.targets]
    if target_name is None:
        raise ConfigError(f"--before needs --target: the post-deletion target (targets: {', '.join(names)})")
    if before not in names:
        raise ConfigError(f"--before: no target '{before}' in the config; targets: {', '.join(names)}")
    if before == target_name:
        raise ConfigError(f"--before names the same target as --target ('{before}'); give the pre-deletion model's target")
    after_inputs = check_inputs(config, base_dir, target_name)  # refuses targets that cannot answer for new records
    before_spec = next(t for t in config.targets if t.name == before)
    if not before_spec.reads_features:
        raise CapabilityError(f"--before: target '{before}' ({before_spec.type}) cannot answer for new records; a deletion check queries "
                              "both models on the same records (sklearn, torch or http targets)")
    before_inputs = load_inputs(config, base_dir, target_names=[before], groups=False)
    d = config.data
    text_columns = [c for c in (d.id_column, person_column) if c]
    frame = read_table(records_file, text_columns=text_columns)
    records = records_from_frame(frame, after_inputs.data, label=d.label, id_column=d.id_column, source=str(records_file))
    persons = data_persons = None
    if person_column is not None:
        persons = person_ids_from_frame(frame, person_column, str(records_file), d.id_column)
        data_persons = after_inputs.data.person_ids  # data.person_column of the config
        if data_persons is None and is_image_source(Path(base_dir) / d.path):
            raise ConfigError(f"--person-column: image or array data ({d.path}) carry no person ids; check the records one by one (leave --person-column out)")
        if data_persons is None:  # else the data file's column of the same name
            table = read_table(Path(base_dir) / d.path, text_columns=text_columns)
            if person_column not in table.columns or not d.id_column:
                raise ConfigError(f"--person-column: set data.person_column in the config to the column of person ids in {d.path} "
                                  "(null persons are real non-member persons)")
            by_id = dict(zip(table[d.id_column].astype(str), person_ids_from_frame(table, person_column, str(d.path), d.id_column), strict=True))
            data_persons = np.array([by_id[str(i)] for i in after_inputs.data.records.ids], dtype=object)
            replace(after_inputs.data, person_ids=data_persons)  # refuses a person with records of different roles, as data.person_column does
    attack = configured_attack(attack, config.attacks)
    return check_deletion(after_inputs.target, before_inputs.targets[0], after_inputs.data, records, persons=persons,
                          data_persons=data_persons, attack=attack, reference=after_inputs.reference, alpha=alpha,
                          seed=config.seed, power_sizes=power_sizes, progress=progress)


def cli_deletion_check(config, base_dir, records_file, record_pairs, target_name, before, person_column, attack, null, alpha, progress):
    """``privaudit check --before`` (the CLI's hook): refuse options a deletion check does not take, then :func:`run_deletion_check`."""
    if record_pairs or records_file is None:
        raise ConfigError("--before checks the records of a file: give --records deleted.csv (not --record pairs)")
    if null != "real":
        raise ConfigError(f"--before uses the real null (the config's non-members) for both models; leave out --null {null}")
    return run_deletion_check(config, base_dir, records_file=records_file, target_name=target_name, before=before,
                              person_column=person_column, attack=attack, alpha=alpha, progress=progress)
