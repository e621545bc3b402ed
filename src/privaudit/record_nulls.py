"""The nulls of a record check: real non-members, fabricated profiles, and the check that the second is calibrated.

A record check (:func:`privaudit.record_check.check_records`) compares a record's
membership score with a **null**: scores of records surely not in training.

* **Real null** (:func:`real_null_p_values`): the audit's non-members, with the
  conformal p-value ``(1 + #{null ≥ s}) / (n + 1)`` (ties count against the
  record). A checked record that is itself one of the non-members (same id) is
  left out of its own null, so its p-value is that of a fresh record.
* **Fabricated null** (:func:`fabricate_null`): profiles drawn from a model of
  ``N`` real records (the population; without one, a seeded half of the
  non-members, the other half being kept for the check). P-values use
  :func:`privaudit.metrics.pvalues.profile_p_values`, ``(1 + N·p̂) / (N + 1)``:
  the floor and the calibration follow the ``N`` records, not the number of
  profiles.
* **Calibration check** (:func:`fabricated_score_check`, :func:`null_calibration`):
  the fabricated null's p-values of real non-members that the profile model did
  not see must not flag more than α of them, at every level in
  :data:`CHECK_LEVELS` (0.05, 0.01, 0.001) and at the check's own α.

Rules (what :func:`decisive_p_values` does with the check)
----------------------------------------------------------
* A level α **can be checked** when the real non-members are at least
  ``MIN_EXPECTED_FLAGS / α`` (5/α: five expected false positives; 100 at 0.05,
  500 at 0.01, 5,000 at 0.001). Below that the flagged count cannot tell a
  calibrated null from one several times too liberal.
* A checked level **fails** when the exact 95 % Clopper–Pearson interval of the
  flagged share lies entirely above α (significantly too many real non-members
  flagged). A calibrated null fails a given level with probability ≤ 2.5 %.
* The null is **not calibrated** when any checked level fails, and **cannot be
  checked** when no level can. In both cases fabricated-null verdicts are
  withheld (:data:`WITHHELD`); with ``null="both"`` the verdicts use the real
  null alone and say so.
* When it is calibrated, fabricated-null p-values below the smallest checked
  level are raised to that level for the verdict: the claim is "p ≤ that level",
  since nothing checked the null further out in the tail.

The check is one-sided on purpose: a null that flags too *few* non-members is
conservative (a loss of power, never a false claim). The KS statistic of the
two score samples is reported beside it as a diagnostic of the whole
distribution.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from privaudit.data import AuditData, RecordSet
from privaudit.exceptions import CapabilityError, ConfigError, DataError
from privaudit.metrics.intervals import clopper_pearson
from privaudit.metrics.pvalues import empirical_p_values, profile_p_values

__all__ = [
    "CHECK_LEVELS",
    "MIN_EXPECTED_FLAGS",
    "WITHHELD",
    "FabricatedNull",
    "fabricate_null",
    "null_calibration",
    "fabricated_score_check",
    "real_null_p_values",
    "decisive_p_values",
]

#: significance levels at which the fabricated null is checked against real non-members (plus the check's α)
CHECK_LEVELS = (0.05, 0.01, 0.001)
#: a level α is checked only with at least MIN_EXPECTED_FLAGS / α real non-members
MIN_EXPECTED_FLAGS = 5
#: the verdict of a record whose fabricated null failed (or could not be given) its check
WITHHELD = "the fabricated null is not calibrated for this model: use the real null"


def format_level(alpha: float) -> str:
    """``0.05`` → ``"0.05"``: a level as the reports write it."""
    return f"{alpha:g}"


@dataclass(frozen=True)
class FabricatedNull:
    """Fabricated profiles and what they came from.

    ``profiles``: the synthetic records (shape ``(n_profiles,)`` records);
    ``n_fitted``: the number ``N`` of real records the profile model was fitted
    on; ``check_positions``: positions in ``data.nonmembers`` of the real
    non-members the profile model never saw (all of them when it was fitted on
    the population); ``fidelity``: the feature-level fidelity report.
    """

    profiles: RecordSet
    n_fitted: int
    check_positions: np.ndarray
    fidelity: dict


def fabricate_null(data: AuditData, label_name: str, n: int, seed: int, notes: list[str], generator: str = "kernel") -> FabricatedNull:
    """Fit the profile model ``generator`` on the population (else on half the non-members) and draw ``n`` profiles.

    Refused for image records: the profile models draw tabular columns one by
    one (or through a Gaussian copula), which does not make images.
    """
    if data.records.image_shape is not None:
        raise CapabilityError(f"--null fabricated draws tabular profiles, not images ({data.records.image_shape[1]} × {data.records.image_shape[2]} "
                              "pixels per record); use --null real (the audit's non-members)")
    try:
        from privaudit.fabricate import PROFILE_MODELS, fidelity_report
    except ImportError as exc:
        raise ConfigError(f"the fabricated null needs privaudit.fabricate, which could not be imported ({exc}); use --null real") from None
    n_nonmembers = int(data.nonmembers.size)
    if data.population.size:
        source_rows, source_name = data.population, "population"
        check_positions = np.arange(n_nonmembers)
    else:
        order = np.random.default_rng([seed, 12]).permutation(n_nonmembers)
        half = n_nonmembers // 2
        source_rows, source_name = np.sort(data.nonmembers[order[:half]]), "non-member"
        check_positions = np.sort(order[half:])
        notes.append(f"no population records: the profile model was fitted on a random half of the audit's non-members "
                     f"({half:,}) and checked against the other half ({n_nonmembers - half:,})")
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
    fidelity["n_fitted"] = int(source.ids.size)
    fidelity["generator"] = generator
    return FabricatedNull(profiles, int(source.ids.size), check_positions, fidelity)


def null_calibration(real_p_values: np.ndarray, levels=CHECK_LEVELS) -> dict:
    """Does a null flag at most α of real non-members, at each level α?

    Parameters
    ----------
    real_p_values : array, shape (n_real,)
        P-values, under the null being checked, of real non-members it did not see.
    levels : iterable of float
        Significance levels to check.

    Returns
    -------
    dict
        ``levels``: one entry per level (ascending) with ``alpha``, ``n``,
        ``flagged``, ``fpr``, ``fpr_ci`` (exact 95 %), ``checkable``
        (``n ≥ MIN_EXPECTED_FLAGS / α``) and ``passed`` (``None`` when not
        checkable; else the interval's lower end ≤ α). ``status``:
        ``"calibrated"``, ``"not calibrated"`` or ``"cannot be checked"``;
        ``checked_down_to``: the smallest checked level or ``None``.
    """
    p = np.asarray(real_p_values, dtype=float)
    n = int(p.size)
    rows = []
    for alpha in sorted({float(a) for a in levels}):
        flagged = int((p <= alpha).sum())
        low, high = clopper_pearson(flagged, n) if n else (0.0, 1.0)
        checkable = n > 0 and n * alpha >= MIN_EXPECTED_FLAGS - 1e-9
        rows.append({"alpha": alpha, "n": n, "flagged": flagged, "fpr": flagged / n if n else float("nan"),
                     "fpr_ci": [low, high], "checkable": bool(checkable), "passed": (low <= alpha) if checkable else None})
    checked = [r for r in rows if r["checkable"]]
    if not checked:
        status = "cannot be checked"
    elif all(r["passed"] for r in checked):
        status = "calibrated"
    else:
        status = "not calibrated"
    return {"levels": rows, "status": status, "checked_down_to": min((r["alpha"] for r in checked), default=None),
            "min_expected_flags": MIN_EXPECTED_FLAGS}


def _calibration_words(calibration: dict) -> str:
    parts = []
    for row in calibration["levels"]:
        level = format_level(row["alpha"])
        if not row["checkable"]:
            parts.append(f"α = {level} cannot be checked ({row['n']:,} real non-members; at least "
                         f"{int(np.ceil(MIN_EXPECTED_FLAGS / row['alpha'] - 1e-9)):,} are needed)")
            continue
        low, high = row["fpr_ci"]
        verdict = "ok" if row["passed"] else "TOO MANY"
        parts.append(f"at α = {level} it flags {100 * row['fpr']:.2g} % of {row['n']:,} real non-members "
                     f"(95 % CI {100 * low:.2g}–{100 * high:.2g} %: {verdict})")
    return "; ".join(parts)


_STATUS_WORDS = {"calibrated": "passed its calibration check", "not calibrated": "FAILED its calibration check (verdicts do not use it)",
                 "cannot be checked": "cannot be checked (verdicts do not use it)"}


def fabricated_score_check(fabricated_scores: np.ndarray, real_nonmember_scores: np.ndarray, alpha: float, *,
                           n_fitted: int, levels=CHECK_LEVELS) -> dict:
    """Does the fabricated null behave like real non-members *for this target and attack*?

    Feature-level fidelity is not enough: what the p-values need is that the
    target's scores on fabricated profiles are distributed like its scores on
    real non-members, in the upper tail above all.

    Parameters
    ----------
    fabricated_scores : array, shape (n_profiles,)
    real_nonmember_scores : array, shape (n_real,)
        Scores of real non-members the profile model did not see.
    alpha : float
        The check's significance level (checked beside ``levels``).
    n_fitted : int
        Real records the profile model was fitted on (the ``N`` of
        :func:`~privaudit.metrics.pvalues.profile_p_values`).

    Returns
    -------
    dict
        ``ks_statistic``, ``ks_p_value`` (two-sample KS of the two score
        samples), ``fpr`` and ``fpr_ci`` at ``alpha`` (share of real
        non-members with fabricated-null p ≤ ``alpha``), ``calibration``
        (:func:`null_calibration` at ``levels`` and ``alpha``), ``status``
        and a one-line ``summary``.
    """
    from scipy.stats import ks_2samp

    real = np.asarray(real_nonmember_scores, dtype=float)
    if real.size == 0:
        raise DataError("the fabricated null's check needs real non-members the profile model did not see; "
                        "add non-members to the data's membership column")
    ks = ks_2samp(fabricated_scores, real)
    real_p = profile_p_values(real, fabricated_scores, n_fitted)
    calibration = null_calibration(real_p, tuple(levels) + (alpha,))
    at_alpha = next(r for r in calibration["levels"] if r["alpha"] == float(alpha))
    ks_p = float(ks.pvalue)
    ks_text = f"{ks_p:.2g}" if ks_p >= 1e-4 else f"{ks_p:.1e}"
    status = calibration["status"]
    return {
        "ks_statistic": float(ks.statistic), "ks_p_value": ks_p, "n_real": int(real.size),
        "n_fabricated": int(np.size(fabricated_scores)), "n_fitted": int(n_fitted),
        "fpr": at_alpha["fpr"], "fpr_ci": at_alpha["fpr_ci"], "calibration": calibration, "status": status,
        "summary": (f"{_STATUS_WORDS[status]}: scores of fabricated profiles (from {n_fitted:,} real records) vs {real.size:,} real non-members "
                    f"they were not fitted on: KS {ks.statistic:.3f} (p = {ks_text}); {_calibration_words(calibration)}"),
    }


def real_null_p_values(scores: np.ndarray, record_ids: np.ndarray, null_scores: np.ndarray, null_ids: np.ndarray) -> tuple[np.ndarray, int]:
    """Conformal p-values against real non-members, each checked non-member left out of its own null.

    ``scores`` (shape ``(m,)``) and ``null_scores`` (shape ``(n,)``) are
    membership scores; ``record_ids`` / ``null_ids`` their ids. A record whose
    id is a null record's id gets ``(1 + #{other null ≥ s}) / n`` (its own
    score removed); every other record ``(1 + #{null ≥ s}) / (n + 1)``. Ties
    count against the record. Returns ``(p, number left out)``.
    """
    p = empirical_p_values(scores, null_scores)
    position = {str(rid): i for i, rid in enumerate(null_ids)}
    own = np.array([str(rid) in position for rid in record_ids], dtype=bool)
    if own.any() and null_scores.size > 1:
        own_null = null_scores[[position[str(rid)] for rid in np.asarray(record_ids)[own]]]
        at_least = np.round(p[own] * (null_scores.size + 1)) - 1 - (own_null >= scores[own])
        p[own] = (1 + at_least) / null_scores.size  # the same formula over the null without the record
        return p, int(own.sum())
    return p, 0


def decisive_p_values(p_by_null: dict, check: dict | None) -> tuple[np.ndarray, bool, list[str]]:
    """The p-values verdicts use, whether they are withheld, and notes saying why.

    ``p_by_null`` maps ``"real"`` / ``"fabricated"`` to p-values of the
    checked records (shape ``(m,)``); ``check`` is :func:`fabricated_score_check`'s
    result (``None`` without a fabricated null). See the module docstring for the rules.
    """
    notes: list[str] = []
    if "fabricated" not in p_by_null:
        return p_by_null["real"].copy(), False, notes
    status = check["status"]
    floor = check["calibration"]["checked_down_to"]
    if status != "calibrated":
        why = ("it flags significantly more than α of real non-members at a checked level" if status == "not calibrated"
               else "too few real non-members to check it at any level")
        if "real" in p_by_null:
            notes.append(f"the fabricated null failed its calibration check ({why}): verdicts use the real null alone")
            return p_by_null["real"].copy(), False, notes
        notes.append(f"verdicts withheld: {WITHHELD} ({why}; see fidelity.score_check)")
        return p_by_null["fabricated"].copy(), True, notes
    fabricated = np.maximum(p_by_null["fabricated"], floor)
    if np.any(p_by_null["fabricated"] < floor):
        notes.append(f"the fabricated null is checked against real non-members only down to α = {format_level(floor)}: "
                     f"smaller fabricated-null p-values are counted as {format_level(floor)} in the verdicts")
    if "real" in p_by_null:
        notes.append("verdicts use the larger of the real-null and fabricated-null p-values")
        return np.maximum(p_by_null["real"], fabricated), False, notes
    return fabricated, False, notes
