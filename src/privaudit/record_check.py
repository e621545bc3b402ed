"""Per-record membership tests: was *this* record used to train the target?

For each checked record the target is queried, an attack turns its outputs
into a membership score (higher = more member-like), and the score is compared
with a **null distribution**: scores of records known *not* to be in training.

* ``null="real"``: the audit's non-member records. A checked record that is
  itself one of them (same record id) is left out of its own null, so its
  p-value is computed exactly as for a fresh record.
* ``null="fabricated"``: synthetic profiles drawn from a model of the
  population (``generator="kernel"``, the default: a smoothed bootstrap,
  :class:`privaudit.fabricate.KernelProfileModel`; or ``"copula"``:
  :class:`privaudit.fabricate.ProfileModel`), fitted on the
  population records, or on the non-members when there is no population),
  scored by the same target and attack. A fidelity report of the synthetic
  records is returned beside the result: the p-value is only as good as the
  profiles are like real non-members — and, what matters here, only as good
  as the target's *scores* on them are like its scores on real non-members,
  which :func:`fabricated_score_check` tests (KS, and the false-positive rate
  the fabricated null gives the real non-members at α).
* ``null="both"``: both p-values are reported; the verdict uses the larger
  (more conservative) of the two.

The p-value (:func:`empirical_p_values`) is ``(1 + #{null ≥ s}) / (1 + n_null)``:
valid (``Pr[p ≤ t] ≤ t`` for every t) whenever the checked record's score and
the null scores are exchangeable — true for a real non-member drawn like the
null records; ties make it conservative. The smallest p it can give is
``1 / (n_null + 1)``. When several records are checked, p-values are adjusted
with Benjamini–Hochberg (:func:`benjamini_hochberg`), which controls the
expected fraction of false "used in training" verdicts among those made.

**Reference attacks and likelihood ratios.** With a reference plan
(:class:`~privaudit.reference.plan.ReferencePlan`), ``lira``, ``rmia`` and
``reference_calibrated_loss`` run in *offline* mode: the reference models train
on population records only (the same store keys as an offline audit with the
same seed, so an audit's models are reused), and every checked, member, null
and fabricated record is scored against them in one pass. Online models would
have to be trained with each checked record inside, so ``check`` does not offer
them. RMIA gives each record its likelihood ratio ``LR(x) = Pr(x|θ) / Pr(x)``
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
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from privaudit.data import AuditData, RecordSet
from privaudit.exceptions import CapabilityError, ConfigError, DataError
from privaudit.metrics.intervals import clopper_pearson
from privaudit.metrics.pvalues import benjamini_hochberg, empirical_p_values

__all__ = [
    "RecordVerdict",
    "CheckResult",
    "fabricated_score_check",
    "verdict",
    "records_from_frame",
    "records_from_pairs",
    "check_records",
    "run_check",
    "check_inputs",
    "CheckInputs",
    "NULL_KINDS",
]

NULL_KINDS = ("real", "fabricated", "both")
#: verdict bands on the (adjusted) p-value
STRONG_EVIDENCE = 0.01


# ---------------------------------------------------------------- pure statistics


def fabricated_score_check(fabricated_scores: np.ndarray, real_nonmember_scores: np.ndarray, alpha: float) -> dict:
    """Does the fabricated null behave like real non-members *for this target and attack*?

    Feature-level fidelity is not enough: what the p-values need is that the
    target's scores on fabricated profiles are distributed like its scores on
    real non-members. Returns the two-sample KS test of the two score samples,
    and the false-positive rate the fabricated null gives real non-members at
    ``alpha`` (should be ≤ ``alpha``) with its Clopper–Pearson interval.
    """
    from scipy.stats import ks_2samp

    ks = ks_2samp(fabricated_scores, real_nonmember_scores)
    flagged = int((empirical_p_values(real_nonmember_scores, fabricated_scores) <= alpha).sum())
    n = int(np.size(real_nonmember_scores))
    fpr = flagged / n
    low, high = clopper_pearson(flagged, n)
    return {
        "ks_statistic": float(ks.statistic), "ks_p_value": float(ks.pvalue), "n_real": n, "n_fabricated": int(np.size(fabricated_scores)),
        "fpr": fpr, "fpr_ci": [low, high],
        "summary": (f"scores of fabricated profiles vs {n:,} real non-members: KS {ks.statistic:.3f} (p = {_format_p(float(ks.pvalue))}); "
                    f"at α = {alpha:g} the fabricated null flags {100 * fpr:.1f} % of real non-members (95 % CI {100 * low:.1f}–{100 * high:.1f} %)"),
    }


def _format_p(p: float) -> str:
    return f"{p:.2g}" if p >= 1e-4 else f"{p:.1e}"


def verdict(p: float, q: float | None, alpha: float, power: float | None, n_null: int, multiple: int = 1) -> str:
    """A plain-language verdict for one record.

    Parameters
    ----------
    p : float
        The record's p-value.
    q : float or None
        Its Benjamini–Hochberg q-value when ``multiple`` > 1 records were checked.
    alpha : float
        Significance level (false-discovery rate when ``multiple`` > 1).
    power : float or None
        Fraction of known training records this test flags at ``alpha``.
    n_null : int
        Null scores behind ``p``; the smallest reachable p is ``1/(n_null + 1)``.
    multiple : int
        How many records were checked together.
    """
    decisive = q if (multiple > 1 and q is not None) else p
    one_in = max(1, round(1 / p))
    floor = 1 / (n_null + 1)
    at_floor = p <= floor * (1 + 1e-9)
    p_text = f"p {'≤' if at_floor else '='} {_format_p(p)}"
    if multiple > 1 and q is not None:
        p_text += f", q = {_format_p(q)} after Benjamini–Hochberg across {multiple} records"
    if p < 0.1:
        how_rare = f"about 1 in {one_in:,} people who were not in training look this member-like"
    else:  # "1 in 1" says nothing; a share does
        how_rare = f"about {100 * p:.0f} % of people who were not in training look at least this member-like"
    if at_floor:
        how_rare = (f"no null record of {n_null:,} looked this member-like; {_format_p(floor)} is the smallest p "
                    f"this null can give, so at most about 1 in {one_in:,} non-members do")
    if decisive <= alpha:
        strength = "Strong evidence" if decisive <= STRONG_EVIDENCE else "Moderate evidence"
        return f"{strength} this record was used in training ({p_text}: {how_rare})."
    power_text = (
        f"this test detects about {100 * power:.0f} % of training records at α = {alpha:g} (power measured on the audit's members)"
        if power is not None else "the power of this test is unknown"
    )
    return (
        f"No evidence this record was used in training ({p_text}: {how_rare}). "
        f"This is not evidence that the record was not used: {power_text}."
    )


# ---------------------------------------------------------------- records to check


def _coerce(values: pd.Series, reference: pd.Series, column: str, where: str) -> pd.Series:
    """Convert ``values`` to the dtype of the data's ``reference`` column, with a one-line error naming it."""
    dtype = reference.dtype
    try:
        if pd.api.types.is_bool_dtype(dtype):
            mapped = values.astype(str).str.strip().str.lower().map({"true": True, "1": True, "false": False, "0": False})
            if mapped.isna().any():
                raise ValueError
            return mapped.astype(bool)
        if pd.api.types.is_integer_dtype(dtype):
            numbers = pd.to_numeric(values, errors="raise")
            if not np.all(np.asarray(numbers, dtype=float) == np.round(np.asarray(numbers, dtype=float))):
                raise ValueError
            return numbers.astype(dtype)
        if pd.api.types.is_numeric_dtype(dtype):
            return pd.to_numeric(values, errors="raise").astype(dtype)
    except (ValueError, TypeError):
        bad = values.iloc[0] if len(values) == 1 else values.astype(str).iloc[0]
        kind = "true/false" if pd.api.types.is_bool_dtype(dtype) else ("an integer" if pd.api.types.is_integer_dtype(dtype) else "a number")
        raise DataError(f"{where}: column '{column}' needs {kind} (as in the data, {dtype}), got '{bad}'") from None
    text = values.astype(str).str.strip()
    known = set(reference.astype(str).unique())
    unseen = sorted(set(text) - known)
    if unseen:
        examples = ", ".join(sorted(known)[:8])
        raise DataError(f"{where}: column '{column}' has value '{unseen[0]}', which never appears in the data; known values: {examples}")
    if isinstance(dtype, pd.CategoricalDtype):
        return text.astype(dtype)
    return text.astype(reference.dtype) if reference.dtype == object else text


def records_from_frame(frame: pd.DataFrame, data: AuditData, *, label: str, id_column: str | None = None, source: str = "records") -> RecordSet:
    """Records to check, from a table with the data's feature columns and label column.

    Values are converted to the dtypes of the data's columns; other columns are
    ignored. Ids come from ``id_column`` when the table has it, else
    ``record-1``, ``record-2``, ...
    """
    reference = data.records.features
    missing = [c for c in reference.columns if c not in frame.columns]
    if missing:
        raise DataError(f"{source}: missing feature column(s) {', '.join(missing)}; every record needs all features the target uses")
    if label not in frame.columns:
        raise DataError(f"{source}: missing the label column '{label}'; the loss of a record needs its true label")
    if len(frame) == 0:
        raise DataError(f"{source}: no records to check")
    features = pd.DataFrame({c: _coerce(frame[c].reset_index(drop=True), reference[c], c, source) for c in reference.columns})
    by_text = {str(c): i for i, c in enumerate(data.records.classes)}
    raw = frame[label].astype(str).str.strip()
    unknown = sorted(set(raw) - set(by_text))
    if unknown:
        raise DataError(f"{source}: label '{label}' has value '{unknown[0]}', not a class of the data; classes: {', '.join(by_text)}")
    labels = raw.map(by_text).to_numpy(dtype=np.intp)
    if id_column is not None and id_column in frame.columns:
        ids = frame[id_column].astype(str).to_numpy()
    else:
        ids = np.array([f"record-{i + 1}" for i in range(len(frame))])
    return RecordSet(ids, features, labels, data.records.classes)


def records_from_pairs(pairs: Sequence[str], data: AuditData, *, label: str, id_column: str | None = None) -> RecordSet:
    """One record from ``key=value`` strings (the CLI's ``--record``), typed like the data's columns."""
    allowed = list(data.records.features.columns) + [label] + ([id_column] if id_column else [])
    values: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise DataError(f"--record '{pair}': write each field as key=value, e.g. {allowed[0]}=...")
        if key not in allowed:
            raise DataError(f"--record: unknown column '{key}'; known columns: {', '.join(allowed)}")
        if key in values:
            raise DataError(f"--record: column '{key}' given twice")
        values[key] = value.strip()
    missing = [c for c in allowed if c not in values and c != id_column]
    if missing:
        raise DataError(f"--record: missing {', '.join(missing)}; give each as key=value (all features and the label '{label}')")
    frame = pd.DataFrame({k: [v] for k, v in values.items()})
    return records_from_frame(frame, data, label=label, id_column=id_column, source="--record")


# ---------------------------------------------------------------- the check


@dataclass(frozen=True)
class RecordVerdict:
    """One checked record. ``p_values`` maps each null ("real", "fabricated") to its p-value."""

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


def _null_profiles(data: AuditData, label_name: str, n: int, seed: int, notes: list[str], generator: str = "kernel"):
    try:
        from privaudit.fabricate import PROFILE_MODELS, fidelity_report
    except ImportError as exc:
        raise ConfigError(f"the fabricated null needs privaudit.fabricate, which could not be imported ({exc}); use --null real") from None
    if data.population.size:
        source_rows, source_name = data.population, "population"
    else:
        source_rows, source_name = data.nonmembers, "non-member"
        notes.append("no population records: the profile model was fitted on the audit's non-members")
    source = data.records.subset(source_rows)
    features = list(source.features.columns)
    label = label_name if label_name not in features else f"{label_name}__label"
    real = source.features.copy()
    real[label] = [source.classes[i] for i in source.labels]
    model = PROFILE_MODELS.get(generator)(features=features, label=label, seed=seed).fit(real)
    synthetic = model.sample(n, seed=seed)
    by_value = {c: i for i, c in enumerate(source.classes)}
    by_text = {str(c): i for i, c in enumerate(source.classes)}
    labels = np.array([by_value.get(v, by_text.get(str(v), -1)) for v in synthetic[label]], dtype=np.intp)
    if (labels < 0).any():
        raise DataError("the profile model produced labels that are not classes of the data")
    features_frame = synthetic[features].reset_index(drop=True).astype(source.features.dtypes.to_dict())
    ids = np.array([f"fabricated-{i:06d}" for i in range(n)])
    profiles = RecordSet(ids, features_frame, labels, source.classes)
    fidelity = dict(fidelity_report(real, synthetic, features=features, label=label))
    fidelity["fitted_on"] = f"{source.ids.size} {source_name} records"
    fidelity["generator"] = generator
    return profiles, fidelity



_REFERENCE_ATTACKS = ("lira", "rmia", "reference_calibrated_loss")


def _check_attack(attack, reference, notes: list[str]):
    """Build the attack; reference attacks default to offline mode and get an offline plan."""
    from dataclasses import replace

    from privaudit.attacks import build_attack

    if isinstance(attack, str) and attack in _REFERENCE_ATTACKS:
        attack = {"name": attack}
    if isinstance(attack, dict) and attack.get("name") in _REFERENCE_ATTACKS:
        attack = {"mode": "offline", **attack}
    attack = build_attack(attack) if isinstance(attack, (str, dict)) else attack
    if hasattr(attack, "query_signal"):
        raise CapabilityError(f"attack '{attack.display_name}' queries perturbed copies of every record and runs in audits only; "
                              "check records with a threshold attack on one query (correctness for a label-only target)")
    if not getattr(attack, "needs_reference", False):
        return attack, None
    if getattr(attack, "mode", "offline") != "offline":
        raise ConfigError(f"attack '{attack.display_name}': check scores records no reference model was trained on, so it runs "
                          "reference attacks offline; use mode: offline (the default for check)")
    if reference is None:
        raise CapabilityError(f"attack '{attack.display_name}' needs reference models: add a 'reference' block to the target in the "
                              "config (models, and for torch targets a training recipe), or use a threshold attack (loss, logit_confidence)")
    if reference.mode != "offline":
        reference = replace(reference, mode="offline")
        notes.append("reference models were trained offline (on population records only): online models would have to be "
                     "trained with each checked record inside")
    return attack, reference


def _score_parts(target, data: AuditData, attack, parts: Mapping[str, RecordSet], reference, seed: int, progress):
    """Score every part in one pass: ``({part: scores}, log likelihood ratios of the 'checked' part or None)``."""
    from privaudit.data import concat_records
    from privaudit.signals import compute_signals

    names = list(attack.required_signals)
    everything = concat_records(list(parts.values()))
    signals = compute_signals(target, everything, names)
    population = data.records.subset(data.population) if data.population.size else None
    if getattr(attack, "needs_reference", False):
        from privaudit.reference.plan import reference_signals

        population_signals = compute_signals(target, population, names) if population is not None else None
        ref, _, _ = reference_signals(reference, data, names, target_population_signals=population_signals, seed=seed,
                                      progress=progress, query=everything)
        scores = attack.fit(signals, everything.labels, ref).score(signals, everything.labels, ref)
    else:
        if attack.needs_population:
            if population is None:
                raise DataError(f"attack '{attack.display_name}' needs population records; add them to the membership column, or use --attack loss")
            attack.fit(compute_signals(target, population, names), population.labels)
        scores = attack.score(signals, everything.labels)
    log_ratios = getattr(attack, "log_likelihood_ratios_", None)
    out, start = {}, 0
    for name, part in parts.items():
        out[name] = scores[start : start + len(part)]
        start += len(part)
    return out, None if log_ratios is None else np.asarray(log_ratios)[: len(parts["checked"])]


def check_records(
    target,
    data: AuditData,
    records: RecordSet,
    *,
    attack="loss",
    null: str = "real",
    n_fabricated: int = 10_000,
    generator: str = "kernel",
    alpha: float = 0.05,
    seed: int = 0,
    label_name: str = "label",
    reference=None,
    progress=None,
) -> CheckResult:
    """Test each of ``records`` for membership in ``target``'s training data.

    Parameters
    ----------
    target : privaudit.targets.Target
    data : AuditData
        Members (to measure power), non-members (the real null) and population
        (to fit class-wise attacks and the profile model).
    records : RecordSet
        Records to check, with true labels.
    attack : str, dict or attack object
        Anything :func:`privaudit.attacks.build_attack` takes. ``lira``,
        ``rmia`` and ``reference_calibrated_loss`` run offline and need
        ``reference``.
    null : {"real", "fabricated", "both"}
    n_fabricated : int
        Synthetic profiles in the fabricated null.
    generator : {"kernel", "copula"}
        Profile model of the fabricated null (:data:`privaudit.fabricate.PROFILE_MODELS`).
    alpha : float
        Significance level; with several records, the false-discovery rate.
    label_name : str
        Name of the label column (used by the profile model and its report).
    reference : ReferencePlan, optional
        Reference models for reference attacks (forced to offline mode).
    progress : callable, optional
        ``progress(done, total, message)`` while reference models train.

    Returns
    -------
    CheckResult
        ``power`` is the fraction of the audit's members with p ≤ ``alpha``
        under the same null (a single test, no multiplicity correction; with
        both nulls, the larger p), with its 95 % Clopper–Pearson interval.
        With a fabricated null, ``fidelity`` holds the profile model's
        fidelity report plus ``score_check`` (:func:`fabricated_score_check`
        against the real non-members) and a note when that check fails.
    """
    if null not in NULL_KINDS:
        raise ConfigError(f"unknown null '{null}'; choose one of {', '.join(NULL_KINDS)}")
    if not 0 < alpha < 1:
        raise ConfigError(f"alpha must lie in (0, 1), got {alpha}")
    if len(records) == 0:
        raise DataError("no records to check")
    notes: list[str] = []
    attack, reference = _check_attack(attack, reference, notes)

    parts = {"checked": records, "members": data.records.subset(data.members), "real": data.records.subset(data.nonmembers)}
    fidelity = None
    if null in ("fabricated", "both"):
        parts["fabricated"], fidelity = _null_profiles(data, label_name, n_fabricated, seed, notes, generator)
    scored, log_ratios = _score_parts(target, data, attack, parts, reference, seed, progress)
    checked, member_scores = scored["checked"], scored["members"]
    nulls: dict[str, np.ndarray] = {}
    if null in ("real", "both"):
        nulls["real"] = scored["real"]
    if "fabricated" in parts:
        nulls["fabricated"] = scored["fabricated"]
        fidelity["score_check"] = fabricated_score_check(nulls["fabricated"], scored["real"], alpha)
        if fidelity["score_check"]["ks_p_value"] < 0.01 or fidelity["score_check"]["fpr_ci"][0] > alpha:
            notes.append("the target scores fabricated profiles differently from real non-members (see fidelity.score_check): "
                         "fabricated-null p-values may be miscalibrated; prefer --null real or both")

    nonmember_ids = data.records.ids[data.nonmembers]
    p_by_null: dict[str, np.ndarray] = {}
    n_null: dict[str, int] = {}
    member_p = np.zeros(member_scores.size)
    for kind, null_scores in nulls.items():
        p = empirical_p_values(checked, null_scores)
        if kind == "real":  # a checked non-member leaves its own score out of the null
            position = {rid: i for i, rid in enumerate(nonmember_ids)}
            own = np.array([rid in position for rid in records.ids])
            if own.any() and null_scores.size > 1:
                own_null = null_scores[[position[rid] for rid in records.ids[own]]]
                at_least = np.round(p[own] * (null_scores.size + 1)) - 1 - (own_null >= checked[own])
                p[own] = (1 + at_least) / null_scores.size  # the same formula over the null without the record
                notes.append(f"{int(own.sum())} checked record(s) are audit non-members and were left out of their own null")
        p_by_null[kind] = p
        n_null[kind] = int(null_scores.size)
        member_p = np.maximum(member_p, empirical_p_values(member_scores, null_scores))
    p_final = np.max(np.vstack(list(p_by_null.values())), axis=0)
    smallest_null = min(n_null.values())
    if null == "both":
        notes.append("verdicts use the larger of the real-null and fabricated-null p-values")

    m = len(records)
    q = benjamini_hochberg(p_final) if m > 1 else p_final.copy()
    hits = int((member_p <= alpha).sum())
    power = hits / member_scores.size
    power_ci = clopper_pearson(hits, member_scores.size)
    if m > 1:
        note = (f"{m} records were checked, so p-values were adjusted with the Benjamini–Hochberg procedure: among records "
                f"called 'used in training' (q ≤ {alpha:g}), the expected fraction wrongly called is at most {alpha:g}.")
    else:
        note = "One record was checked: no multiple-testing correction was needed (q = p)."
    verdicts = []
    for i in range(m):
        verdicts.append(
            RecordVerdict(
                record_id=str(records.ids[i]),
                score=float(checked[i]),
                likelihood_ratio=None if log_ratios is None else float(np.exp(np.clip(log_ratios[i], -700.0, 700.0))),
                p_values={k: float(v[i]) for k, v in p_by_null.items()},
                p_value=float(p_final[i]),
                q_value=float(q[i]),
                significant=bool(q[i] <= alpha),
                verdict=verdict(float(p_final[i]), float(q[i]) if m > 1 else None, alpha, power, smallest_null, m),
            )
        )
    return CheckResult(
        target=target.name, attack=attack.display_name, null=null, alpha=alpha, records=verdicts, n_null=n_null,
        power=power, power_ci=power_ci, n_members=int(member_scores.size), multiple_testing_note=note,
        fidelity=fidelity, notes=notes,
    )


@dataclass(frozen=True)
class CheckInputs:
    """What a config provides to a record check: the data, one loaded target, its reference plan (or None), the label name."""

    data: AuditData
    target: object
    reference: object
    label: str


def check_inputs(config, base_dir: str | Path, target_name: str | None = None) -> CheckInputs:
    """Load the data, the target and its reference plan that a validated config names."""
    from privaudit.data import load_audit_data
    from privaudit.targets import load_target

    names = [t.name for t in config.targets]
    if target_name is None:
        if len(names) > 1:
            raise ConfigError(f"the config has {len(names)} targets ({', '.join(names)}); choose one with --target")
        target_name = names[0]
    if target_name not in names:
        raise ConfigError(f"no target '{target_name}' in the config; targets: {', '.join(names)}")
    spec = next(t for t in config.targets if t.name == target_name)
    if spec.type == "precomputed":
        raise CapabilityError(f"target '{target_name}' is a file of precomputed outputs and cannot answer for new records; check needs a model (sklearn or torch)")
    base_dir = Path(base_dir)
    d, m = config.data, config.data.membership
    resolve = lambda p: None if p is None else base_dir / p  # noqa: E731
    data = load_audit_data(
        base_dir / d.path, label=d.label, id_column=d.id_column, features=d.features, membership_column=m.column,
        members_file=resolve(m.members), nonmembers_file=resolve(m.nonmembers), population_file=resolve(m.population),
        classes=d.classes,
    )
    reference = None
    if spec.reference is not None:
        from privaudit.reference.plan import plans_from_config

        reference = plans_from_config(config, base_dir)[target_name]
    return CheckInputs(data, load_target(spec.model_dump(), base_dir, target_name, trust_code=config.trust_code), reference, d.label)


def run_check(
    config,
    base_dir: str | Path,
    *,
    records_file: str | Path | None = None,
    record_pairs: Sequence[str] | None = None,
    target_name: str | None = None,
    attack="loss",
    null: str = "real",
    alpha: float = 0.05,
    n_fabricated: int = 10_000,
    generator: str = "kernel",
    progress=None,
) -> CheckResult:
    """Load what a validated config names (:func:`check_inputs`), read the records to check, and call :func:`check_records`."""
    from privaudit.data import read_table

    if (records_file is None) == (not record_pairs):
        raise ConfigError("give the records to check either as a file (--records people.csv) or as --record key=value pairs, not both or neither")
    inputs = check_inputs(config, base_dir, target_name)
    d = config.data
    if records_file is not None:
        records = records_from_frame(read_table(records_file), inputs.data, label=d.label, id_column=d.id_column, source=str(records_file))
    else:
        records = records_from_pairs(list(record_pairs), inputs.data, label=d.label, id_column=d.id_column)
    return check_records(inputs.target, inputs.data, records, attack=attack, null=null, n_fabricated=n_fabricated, generator=generator,
                         alpha=alpha, seed=config.seed, label_name=inputs.label, reference=inputs.reference, progress=progress)
