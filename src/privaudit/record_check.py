"""Per-record membership tests: was *this* record used to train the target?

For each checked record the target is queried, an attack turns its outputs
into a membership score (higher = more member-like), and the score is compared
with a **null distribution**: scores of records known *not* to be in training.

* ``null="real"``: the audit's non-member records. A checked record that is
  itself one of them (same record id) is left out of its own null, so its
  p-value is computed exactly as for a fresh record.
* ``null="fabricated"``: synthetic profiles drawn from a model of ``N`` real
  records (``generator="kernel"``, the default: a smoothed bootstrap,
  :class:`privaudit.fabricate.KernelProfileModel`; or ``"copula"``:
  :class:`privaudit.fabricate.ProfileModel`), fitted on the population
  records, or on half the non-members when there is no population, scored by
  the same target and attack. Its p-value is ``(1 + N·p̂) / (N + 1)``
  (:func:`~privaudit.metrics.pvalues.profile_p_values`): its floor is
  ``1/(N + 1)``, not one over the number of profiles. The null is checked
  against real non-members it was not fitted on at α = 0.05, 0.01, 0.001
  and the check's α (:func:`~privaudit.record_nulls.fabricated_score_check`);
  when it fails, or cannot be checked, its verdicts are **withheld**
  ("the fabricated null is not calibrated for this model: use the real null").
  Rules: :mod:`privaudit.record_nulls`.
* ``null="both"``: both p-values are reported; the verdict uses the larger
  (more conservative) of the two — or the real one alone, saying so, when the
  fabricated null fails its check.

The real-null p-value (:func:`empirical_p_values`) is ``(1 + #{null ≥ s}) / (1 + n_null)``:
valid (``Pr[p ≤ t] ≤ t`` for every t) whenever the checked record's score and
the null scores are exchangeable — true for a real non-member drawn like the
null records (same source and period; every "evidence" verdict says so); ties
count against the record. The smallest p it can give is ``1 / (n_null + 1)``;
there a verdict gives the exact 95 % upper bound on the share of non-members
that look as member-like (≈ 3/n), not "1 in n". When several records are
checked, p-values are adjusted with Benjamini–Hochberg
(:func:`benjamini_hochberg`), which controls the false-discovery rate (the
expected fraction of false "used in training" verdicts among those made), not
the family-wise error rate. Verdict wording: :mod:`privaudit.record_verdicts`.

**Reference attacks and likelihood ratios.** With a reference plan
(:class:`~privaudit.reference.plan.ReferencePlan`), ``lira``, ``rmia`` and
``reference_calibrated_loss`` run in *offline* mode: the reference models train
on population records only (the same store keys as an offline audit with the
same seed, so an audit's models are reused), and every checked, member, null
and fabricated record is scored against them in one pass. ``mode="online"``
trains models around the checked records instead (:mod:`privaudit.record_online`). RMIA gives each record its likelihood ratio ``LR(x) = Pr(x|θ) / Pr(x)``
(Zarifzadeh et al. 2024, eq. 3 with the offline ``Pr(x)``), reported as
``likelihood_ratio``; online LiRA's score is a log likelihood ratio; offline
LiRA, threshold attacks and ``classwise_threshold`` give a score, not a ratio
(``likelihood_ratio`` is ``None``). The p-value never depends on the ratio
being calibrated: it comes from the null, as for any score.

Example
-------
>>> import numpy as np
>>> empirical_p_values(np.array([3.0, 0.5]), np.array([0.0, 1.0, 2.0, 2.5]))
array([0.2, 0.8])
>>> benjamini_hochberg(np.array([0.01, 0.04, 0.03])).round(3)
array([0.03, 0.04, 0.04])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from privaudit.data import AuditData, RecordSet
from privaudit.exceptions import CapabilityError, ConfigError, DataError
from privaudit.metrics.pvalues import benjamini_hochberg, empirical_p_values, power_and_bh_floor, profile_p_values
from privaudit.person_check import check_persons, person_ids_from_frame
from privaudit.record_input import CheckInputs, check_inputs, records_from_frame, records_from_pairs
from privaudit.record_nulls import WITHHELD, decisive_p_values, fabricate_null, fabricated_score_check, real_null_p_values
from privaudit.record_verdicts import STRONG_EVIDENCE, verdict, withheld_verdict

__all__ = [
    "RecordVerdict", "CheckResult", "fabricated_score_check", "verdict", "records_from_frame", "records_from_pairs", "check_records",
    "run_check", "check_inputs", "check_attack", "CheckInputs", "NULL_KINDS", "STRONG_EVIDENCE",
]

NULL_KINDS = ("real", "fabricated", "both")


# ---------------------------------------------------------------- the check


@dataclass(frozen=True)
class RecordVerdict:
    """One checked record. ``p_values`` maps each null ("real", "fabricated") to its p-value; ``p_value`` is the one the verdict uses."""

    record_id: str
    score: float
    likelihood_ratio: float | None
    p_values: dict
    p_value: float
    q_value: float
    significant: bool
    verdict: str


@dataclass
class CheckResult:
    """Everything ``privaudit check`` reports. ``power`` is measured on the audit's members under the same null."""

    target: str
    attack: str
    null: str
    alpha: float
    records: list[RecordVerdict]
    n_null: dict
    power: float
    power_ci: tuple[float, float]
    n_members: int
    multiple_testing_note: str
    fidelity: dict | None = None
    notes: list[str] = field(default_factory=list)
    #: real records behind each null's p-values: the real null's size, or the N records the profile model was fitted on
    n_real_records: dict = field(default_factory=dict)
    #: True when verdicts are withheld because the fabricated null failed (or could not be given) its calibration check
    withheld: bool = False
    #: person-level verdicts (:class:`~privaudit.person_check.PersonVerdict`) when the records are grouped by person
    persons: list | None = None
    #: online checks: mode, pool sizes, n_models, models trained/reused, backend and the design (None offline)
    reference: dict | None = None
    #: share of the same members with p ≤ alpha / m (m checked records; equals ``power`` when m = 1): a lower
    #: bound on the chance Benjamini–Hochberg calls a training record used, ``power`` the upper one
    power_floor: float | None = None
    power_floor_ci: tuple[float, float] | None = None


def check_attack(attack, reference, notes: list[str], *, output_kind: str = "probabilities", has_population: bool = True):
    """Build the check's attack (``None``: the strongest the inputs support, :func:`~privaudit.pipeline.strongest_check_attack`).

    Reference attacks default to offline mode and get an offline plan; query attacks are refused.
    Returns ``(attack, reference plan or None)``; the default's choice and reason go into ``notes``.
    """
    import inspect
    from dataclasses import replace

    from privaudit.attacks import ATTACKS, build_attack
    from privaudit.pipeline import strongest_check_attack

    reason = None
    if attack is None:
        attack, reason = strongest_check_attack(output_kind, has_population=has_population, has_reference=reference is not None)
    if isinstance(attack, str) and attack in ATTACKS:
        attack = {"name": attack}
    if isinstance(attack, dict) and attack.get("name") in ATTACKS and ATTACKS.get(attack["name"])().needs.reference:
        if "mode" not in inspect.signature(ATTACKS.get(attack["name"])).parameters:
            raise CapabilityError(f"attack '{attack['name']}' learns from online reference models (each record trained in some, left out of "
                                  "others), which check cannot train around the records it checks; check runs rmia, lira or "
                                  "reference_calibrated_loss offline")
        attack = {"mode": "offline", **attack}
    attack = build_attack(attack) if isinstance(attack, (str, dict)) else attack
    if reason is not None:
        notes.append(f"attack {attack.display_name} was chosen by default: {reason}")
    needs = attack.needs
    if needs.query_signals:
        raise CapabilityError(f"attack '{attack.display_name}' queries perturbed copies of every record and runs in audits only; "
                              "check records with a threshold attack on one query (correctness for a label-only target)")
    if not needs.reference:
        return attack, None
    if needs.reference_mode != "offline":
        raise ConfigError(f"attack '{attack.display_name}': check scores records no reference model was trained on, so it runs "
                          "reference attacks offline; use mode: offline (the default for check), or check with --mode online")
    if reference is None:
        raise CapabilityError(f"attack '{attack.display_name}' needs reference models: add a 'reference' block to the target in the "
                              "config (models, and for torch targets a training recipe), or use a threshold attack (loss, logit_confidence)")
    if reference.mode != "offline":
        reference = replace(reference, mode="offline")
        if getattr(reference, "precomputed", None) is not None:  # models trained elsewhere: their keep masks, not population-only training
            notes.append(f"reference models from {Path(reference.precomputed.source).name} trained on some audited records (their keep masks); "
                         "the offline attack reads, for each checked record, only the models that did not train on it")
        else:
            notes.append("reference models were trained offline (on population records only): online models would have to be "
                         "trained with each checked record inside")
    return attack, reference


def check_records(
    target,
    data: AuditData,
    records: RecordSet,
    *,
    attack=None,
    null: str = "real",
    n_fabricated: int = 10_000,
    generator: str = "kernel",
    alpha: float = 0.05,
    seed: int = 0,
    label_name: str = "label",
    reference=None,
    progress=None,
    person_ids=None,
    mode: str = "offline",
) -> CheckResult:
    """Test each of ``records`` for membership in ``target``'s training data.

    Parameters
    ----------
    target : privaudit.targets.Target
    data : AuditData
        Members (to measure power), non-members (the real null, and the check
        of the fabricated one) and population (to fit class-wise attacks and
        the profile model).
    records : RecordSet
        Records to check, with true labels.
    attack : str, dict or attack object, optional
        Anything :func:`privaudit.attacks.build_attack` takes. Reference
        attacks (``lira``, ``rmia``, ``reference_calibrated_loss``) run
        offline and need ``reference``. Default: the strongest attack the
        inputs support (:func:`privaudit.pipeline.strongest_check_attack`:
        offline RMIA with a reference plan and population records, else
        class-wise LOSS with population records, else LOSS); the choice and
        the reason are the first of ``notes``.
    null : {"real", "fabricated", "both"}
    n_fabricated : int
        Synthetic profiles in the fabricated null (more profiles lower the
        Monte-Carlo error of its p-values, not their floor ``1/(N + 1)``).
    generator : {"kernel", "copula"}
        Profile model of the fabricated null (:data:`privaudit.fabricate.PROFILE_MODELS`).
    alpha : float
        Significance level; with several records, the false-discovery rate.
    label_name : str
        Name of the label column (used by the profile model and its report).
    reference : ReferencePlan, optional
        Reference models for reference attacks (run offline, or online with ``mode="online"``).
    progress : callable, optional
        Called with one-line messages (querying, reference training with an ETA).
    person_ids : array, shape (len(records),), optional
        Person of each record: adds person-level verdicts (:mod:`privaudit.person_check`; needs ``data.person_ids``).
    mode : {"offline", "online"}
        ``online``: reference models trained with each checked, null and power record IN a random half
        (:mod:`privaudit.record_online`; real null only); ``reference`` then holds the design and models trained/reused.

    Returns
    -------
    CheckResult
        ``power`` is the fraction of the audit's members with p ≤ ``alpha``
        under the nulls the verdicts use (a single test, no multiplicity
        correction; with both nulls, the larger p), with its 95 %
        Clopper–Pearson interval; ``power_floor`` the same members' share
        with p ≤ ``alpha / m`` (m checked records), a lower bound on the
        chance Benjamini–Hochberg calls a training record used. With a fabricated null, ``fidelity`` holds
        the profile model's fidelity report plus ``score_check``
        (:func:`~privaudit.record_nulls.fabricated_score_check` against real
        non-members the profile model did not see). ``withheld`` is True when
        the fabricated null alone decides and failed that check: every verdict
        then reads "Verdict withheld: ..." and nothing is significant.
    """
    if null not in NULL_KINDS:
        raise ConfigError(f"unknown null '{null}'; choose one of {', '.join(NULL_KINDS)}")
    if not 0 < alpha < 1:
        raise ConfigError(f"alpha must lie in (0, 1), got {alpha}")
    if len(records) == 0:
        raise DataError("no records to check")
    notes: list[str] = []
    fabricated, reference_info, null_ids, member_ids = None, None, None, None
    if mode != "offline":  # online (privaudit.record_online): its own design, null and power samples
        from privaudit.record_online import online_parts

        attack, scored, all_ratios, null_ids, member_ids, reference_info = online_parts(target, data, attack, records, reference, notes, mode=mode,
                                                                                       null=null, seed=seed, progress=progress, person_ids=person_ids)
    else:
        attack, reference = check_attack(attack, reference, notes, output_kind=target.output_kind, has_population=bool(data.population.size))
        parts = {"checked": records, "members": data.records.subset(data.members), "real": data.records.subset(data.nonmembers)}
        if null in ("fabricated", "both"):
            fabricated = fabricate_null(data, label_name, n_fabricated, seed, notes, generator)
            parts["fabricated"] = fabricated.profiles
        from privaudit.pipeline import score_parts

        scored, all_ratios, _ = score_parts(target, data, attack, parts, plan=reference, seed=seed, progress=progress)
    checked, member_scores, log_ratios = scored["checked"], scored["members"], all_ratios and all_ratios["checked"]
    persons = None if person_ids is None else check_persons(data, person_ids, scored, all_ratios, alpha=alpha, seed=seed, null=null, notes=notes,
                                                            null_ids=null_ids, member_ids=member_ids)

    p_by_null: dict[str, np.ndarray] = {}
    member_p_by_null: dict[str, np.ndarray] = {}
    n_null: dict[str, int] = {}
    n_real_records: dict[str, int] = {}
    fidelity, check = None, None
    if null in ("real", "both"):
        p_by_null["real"], left_out = real_null_p_values(checked, records.ids, scored["real"],
                                                         data.records.ids[data.nonmembers] if null_ids is None else null_ids)
        if left_out:
            notes.append(f"{left_out} checked record(s) are audit non-members and were left out of their own null")
        member_p_by_null["real"] = empirical_p_values(member_scores, scored["real"])
        n_null["real"] = n_real_records["real"] = int(scored["real"].size)
    if fabricated is not None:
        profile_scores, n_fitted = scored["fabricated"], fabricated.n_fitted
        fidelity = dict(fabricated.fidelity)
        check = fabricated_score_check(profile_scores, scored["real"][fabricated.check_positions], alpha, n_fitted=n_fitted)
        fidelity["score_check"] = check
        p_by_null["fabricated"] = profile_p_values(checked, profile_scores, n_fitted)
        member_p_by_null["fabricated"] = profile_p_values(member_scores, profile_scores, n_fitted)
        n_null["fabricated"] = int(profile_scores.size)
        n_real_records["fabricated"] = n_fitted
        if check["ks_p_value"] < 0.01:
            notes.append("the target scores fabricated profiles differently from real non-members (KS test, see fidelity.score_check)")
    p_final, withheld, decision_notes = decisive_p_values(p_by_null, check)
    notes.extend(decision_notes)
    used = [k for k in p_by_null if not (k == "fabricated" and "real" in p_by_null and check["status"] != "calibrated")]
    member_p = np.max(np.vstack([member_p_by_null[k] for k in used]), axis=0)

    m = len(records)
    q = benjamini_hochberg(p_final) if m > 1 else p_final.copy()
    power, power_ci, power_floor, power_floor_ci = power_and_bh_floor(member_p, alpha, m)
    if m > 1:
        note = (f"{m} records were checked, so p-values were adjusted with the Benjamini–Hochberg procedure, which controls the "
                f"false-discovery rate, not the family-wise error rate: among records called 'used in training' (q ≤ {alpha:g}), "
                f"the expected fraction wrongly called is at most {alpha:g}; the chance that at least one is wrongly called can be larger.")
    else:
        note = "One record was checked: no multiple-testing correction was needed (q = p)."
    words = {"real": "real non-members", "fabricated": "real records behind the fabricated profiles"}
    verdicts = []
    for i in range(m):
        raw = {k: float(v[i]) for k, v in p_by_null.items()}
        if withheld:
            text = withheld_verdict(raw["fabricated"], WITHHELD)
        else:
            # the null whose p the verdict uses: the fabricated one when its (possibly raised) p is the larger
            decider = "fabricated" if "fabricated" in used and ("real" not in used or p_final[i] > raw["real"]) else "real"
            caveat = None
            if decider == "fabricated" and p_final[i] > raw["fabricated"] * (1 + 1e-12):
                caveat = f"fabricated-null p = {raw['fabricated']:.2g}, counted as {p_final[i]:g}, the smallest level its check covers"
            text = verdict(float(p_final[i]), float(q[i]) if m > 1 else None, alpha, power, n_real_records[decider], m,
                           null_records=words[decider], caveat=caveat, power_floor=power_floor)
        verdicts.append(
            RecordVerdict(
                record_id=str(records.ids[i]),
                score=float(checked[i]),
                likelihood_ratio=None if log_ratios is None else float(np.exp(np.clip(log_ratios[i], -700.0, 700.0))),
                p_values=raw,
                p_value=float(p_final[i]),
                q_value=float(q[i]),
                significant=bool(q[i] <= alpha) and not withheld,
                verdict=text,
            )
        )
    return CheckResult(
        target=target.name, attack=attack.display_name, null=null, alpha=alpha, records=verdicts, n_null=n_null,
        power=power, power_ci=power_ci, n_members=int(member_scores.size), multiple_testing_note=note,
        fidelity=fidelity, notes=notes, n_real_records=n_real_records, withheld=withheld, persons=persons, reference=reference_info,
        power_floor=power_floor, power_floor_ci=power_floor_ci,
    )


def run_check(
    config,
    base_dir: str | Path,
    *,
    records_file: str | Path | None = None,
    record_pairs: Sequence[str] | None = None,
    target_name: str | None = None,
    attack=None,
    null: str = "real",
    alpha: float = 0.05,
    n_fabricated: int = 10_000,
    generator: str = "kernel",
    progress=None,
    person_column: str | None = None,
    mode: str = "offline",
) -> CheckResult:
    """Load what a validated config names (:func:`check_inputs`), read the records to check, and call :func:`check_records`."""
    from privaudit.data import read_table

    if (records_file is None) == (not record_pairs):
        raise ConfigError("give the records to check either as a file (--records people.csv) or as --record key=value pairs, not both or neither")
    if person_column is not None and records_file is None:
        person_ids_from_frame(None, person_column, "--record")  # refuses: persons come from a file's rows
    inputs = check_inputs(config, base_dir, target_name)
    d = config.data
    frame = None
    if records_file is not None:
        frame = read_table(records_file, text_columns=[c for c in (d.id_column, person_column) if c])
        records = records_from_frame(frame, inputs.data, label=d.label, id_column=d.id_column, source=str(records_file))
    else:
        records = records_from_pairs(list(record_pairs), inputs.data, label=d.label, id_column=d.id_column)
    from privaudit.attacks.names import configured_attack

    persons = None if person_column is None else person_ids_from_frame(frame, person_column, str(records_file), d.id_column)

    attack = configured_attack(attack, config.attacks)
    return check_records(inputs.target, inputs.data, records, attack=attack, null=null, n_fabricated=n_fabricated, generator=generator,
                         alpha=alpha, seed=config.seed, label_name=inputs.label, reference=inputs.reference, progress=progress,
                         person_ids=persons, mode=mode)
