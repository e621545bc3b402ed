"""Plain-words verdicts and the caveats every report carries.

A verdict renders one target's :class:`~privaudit.metrics.grading.TargetClaim`
(``AuditResult.claims``): leakage is claimed only when a family-wise corrected
test over all the target's attacks finds it, graded *weak / clear / severe*
from simultaneous intervals; below the minimum sample nothing is concluded
either way; an attack significantly *below* chance flags "scores inverted?"
instead of a verdict. Point figures quoted (AUC, TPR) are the best attack's,
and the text says which correction the claim used and over how many attacks.
"""

from __future__ import annotations

from privaudit.pipeline import AttackResult, AuditResult
from privaudit.exceptions import UnknownNameError
from privaudit.metrics import MIN_EXPECTED_FALSE_POSITIVES, OperatingPoint
from privaudit.metrics.grading import (
    CLEAR_AUC, CLEAR_TPR_RATIO, GRADING_MAX_FPR, SEVERE_AUC, SEVERE_TPR_RATIO, TargetClaim, audit_claims,
)
from privaudit.report.formatting import (
    auc_text, confidence_label, count, fpr_label, min_nonmembers, p_value_text, percent, percent_range,
)

__all__ = ["verdict", "leaks", "claim_for", "grade", "badge", "report_notes", "lowest_supported_point", "show_epsilon",
           "untrained_input_sentence"]

#: status → (badge text, CSS class / colour family)
_BADGES = {
    "too_few_records": ("too few records to conclude", "undetermined"),
    "scores_inverted": ("scores inverted?", "inverted"),
    "none_detected": ("no leakage detected", "none"),
    "weak": ("weak leakage", "weak"),
    "clear": ("clear leakage", "leak"),
    "severe": ("severe leakage", "severe"),
    "leaks": ("leakage detected", "leak"),  # a text audit's claim (privaudit.text.verdict.TextClaim) is not graded
}

#: a text audit's claim status → the badge status
_TEXT_STATUS = {"leaks": "leaks", "none_detected": "none_detected", "too_few": "too_few_records"}


def _text_claim(result: AuditResult):
    """The text claim (:class:`privaudit.text.verdict.TextClaim`) of a text audit, else None."""
    text = getattr(result, "text", None)
    return None if text is None else text.claim


def _results_for(result: AuditResult, target_name: str) -> list[AttackResult]:
    pool = [r for r in result.results if r.target == target_name]
    if not pool:
        known = ", ".join(sorted({r.target for r in result.results})) or "none"
        raise UnknownNameError(f"no results for target '{target_name}'; targets in this audit: {known}")
    return pool


def claim_for(result: AuditResult, target_name: str) -> TargetClaim:
    """The target's claim from ``result.claims``.

    :func:`privaudit.audit` always fills ``claims``; for a result assembled by
    hand without them (or whose results no longer match them) the claims are
    computed once with :func:`privaudit.metrics.grading.audit_claims` and kept.
    """
    pool = _results_for(result, target_name)
    claim = result.claims.get(target_name)
    if claim is None or claim.attacks != tuple(r.attack for r in pool):
        result.claims = {**result.claims, **audit_claims(pool, result.is_member, confidence=result.confidence, seed=result.seed)}
        claim = result.claims[target_name]
    return claim


def grade(result: AuditResult, target_name: str) -> str:
    """The claim's status: too_few_records, scores_inverted, none_detected, weak, clear or severe (a text audit: leaks, ...)."""
    text_claim = _text_claim(result)
    if text_claim is not None:
        _results_for(result, target_name)  # an unknown target name is refused as for a tabular audit
        return _TEXT_STATUS[text_claim.status]
    return claim_for(result, target_name).status


def leaks(result: AuditResult, target_name: str) -> bool:
    """True when the corrected test detects leakage (grade weak, clear or severe; a text audit's claim 'leaks')."""
    if _text_claim(result) is not None:
        return grade(result, target_name) == "leaks"
    return claim_for(result, target_name).detected


def badge(status: str) -> tuple[str, str]:
    """``(text, css_class)`` of the badge for a claim status; the colour follows the grade."""
    return _BADGES[status]


def show_epsilon(result: AuditResult) -> bool:
    """Whether tables next to the verdict show ε: only the valid one-run bound of a randomised audit.

    A heuristic ε estimate (non-randomised membership) can contradict the
    verdict, so it appears only in ``report.json``, labelled heuristic.
    """
    return any(r.metrics.epsilon_lower_bound is not None and r.metrics.epsilon_lower_bound.valid for r in result.results)


def lowest_supported_point(best: AttackResult) -> OperatingPoint | None:
    """The operating point at the lowest target FPR the sample supports, or None."""
    supported = [op for op in best.metrics.operating_points.values() if op.supported]
    return min(supported, key=lambda op: op.target_fpr) if supported else None


def _tpr_sentence(best: AttackResult, confidence: float, subject: str) -> str:
    point = lowest_supported_point(best)
    m = best.metrics
    if point is None:
        smallest = min(m.operating_points) if m.operating_points else None
        if smallest is None:
            return ""
        needed = min_nonmembers(smallest, MIN_EXPECTED_FALSE_POSITIVES)
        return (
            f" There are too few non-members ({count(m.n_nonmembers)}) to quote a true-positive rate at the requested "
            f"false-positive rates (at {fpr_label(smallest)} that needs at least {count(needed)})."
        )
    text = (
        f" At {fpr_label(point.target_fpr)} false positives {subject} identifies {percent(point.tpr)} of training records "
        f"({confidence_label(confidence)} CI {percent_range(*point.ci)})"
    )
    if point.ci[0] <= point.target_fpr:
        text += f", which is not clearly above the {fpr_label(point.target_fpr)} a random guess would flag"
    return text + "."


def _masking_sentence(result: AuditResult, target_name: str) -> str:
    """For a labels-only target with clear or severe leakage: hiding confidence did not stop the attack."""
    summary = next((t for t in result.targets if t.name == target_name), None)
    if summary is None or summary.output_kind != "labels" or grade(result, target_name) not in ("clear", "severe"):
        return ""
    return (" The target answers predicted labels only (its confidence is hidden), yet membership still leaks: "
            "masking the confidence scores did not stop membership inference.")


def _correction(claim: TargetClaim) -> str:
    k = claim.n_attacks
    draws = "draws" if "normal limit" in claim.method else "permutations"
    return f"{claim.method} over {k} attack{'s' if k != 1 else ''}, {count(claim.n_permutations)} {draws}"


def _evidence_text(claim: TargetClaim) -> str:
    e = claim.evidence
    if e is None:
        return ""
    if e.kind == "auc":
        return f"{e.attack} has an AUC of at least {e.auc_lower:.3f}"
    return (f"at {fpr_label(e.target_fpr)} false positives {e.attack} flags at least {percent(e.tpr_lower)} of members "
            f"against at most {percent(e.fpr_upper)} of non-members")


def _floor_sentence(claim: TargetClaim) -> str:
    """Says so when the permutation test cannot reach α at all (a very high confidence level)."""
    floor = 1.0 / (claim.n_permutations + 1)
    if not claim.n_permutations or floor <= claim.alpha:
        return ""
    return (f" With {count(claim.n_permutations)} relabellings no p-value can fall below {floor:.2g}, above α = {claim.alpha:g}: "
            "at this confidence level the test cannot detect anything; use a lower metrics.confidence.")


def _next_steps(result: AuditResult, target_name: str) -> str:
    info = result.reference.get(target_name)
    if info:
        return f"more reference models (this audit trained {count(info['n_models'])}) or a larger sample"
    return "reference-model attacks (LiRA, RMIA) or a larger sample"


def _p_floor(claim: TargetClaim) -> float | None:
    """The smallest adjusted p the permutation test can give, 1/(B + 1)."""
    return 1.0 / (claim.n_permutations + 1) if claim.n_permutations else None


def _graded_text(result: AuditResult, claim: TargetClaim, best: AttackResult, sizes: str) -> str:
    m = best.metrics
    level = confidence_label(m.confidence)
    k = claim.n_attacks
    head = {"weak": "Weak membership leakage", "clear": "Clear membership leakage", "severe": "Severe membership leakage"}[claim.status]
    text = (f"{head}: the corrected test over all attacks finds leakage ({_correction(claim)}; smallest adjusted "
            f"p {p_value_text(claim.min_p_upper, _p_floor(claim))} ≤ α = {claim.alpha:g}). ")
    who = f"The best of {k} attacks by AUC, {best.attack}," if k > 1 else f"The attack {best.attack}"
    text += f"{who} separates members from non-members with {auc_text(m.auc, m.auc_ci, m.confidence)}, on {sizes}."
    text += _tpr_sentence(best, m.confidence, "it")
    bars = (f"an AUC lower bound ≥ {CLEAR_AUC:g}, or a TPR lower bound ≥ {CLEAR_TPR_RATIO:g}× the FPR upper bound at an FPR "
            f"≤ {fpr_label(GRADING_MAX_FPR)}")
    simultaneous = f"one of {count(claim.n_simultaneous)} bounds that hold together at {level}, Bonferroni"
    if claim.status == "weak":
        text += (f" The effect is small: no bound clears the 'clear' bar ({bars}; {count(claim.n_simultaneous)} bounds that hold together at {level}, Bonferroni). Next: to size it, audit "
                 f"with {_next_steps(result, best.target)}; if these records are sensitive, a defence such as "
                 "regularisation or DP-SGD removes it.")
    elif claim.status == "clear":
        text += (f" The effect is clear: {_evidence_text(claim)} ({simultaneous}). Next: train with a defence "
                 "(regularisation, early stopping or DP-SGD) and audit again.")
    else:
        text += (f" The effect is severe: {_evidence_text(claim)} ({simultaneous}; severe from an AUC bound ≥ "
                 f"{SEVERE_AUC:g} or a TPR bound ≥ {SEVERE_TPR_RATIO:g}× the FPR bound). Next: do not release this model "
                 "as it is; retrain with DP-SGD or strong regularisation and audit again.")
    if k > 1:
        text += " The figures quoted are the best attack's, chosen on the same records (slightly optimistic); the claim is corrected."
    return text + _masking_sentence(result, best.target)


def untrained_input_sentence(result: AuditResult, target_name: str) -> str | None:
    """A warning when ``target_name`` predicts its own members' labels no better than always naming their most common class.

    A model that does no better than a constant on its training records is either untrained (or trained away,
    e.g. by heavy noise) or, far more often, is not receiving its inputs as it was trained on them: feature
    columns in another order or scale, pixels in 0–255 for a model trained on 0–1, another label mapping. Its
    scores then describe that input, not the model's training, so a "no leakage detected" must not be read as
    evidence about the model. The rule is a point comparison on the members' accuracy, so the sentence names the
    legitimate exceptions (class-weighted training on imbalanced classes keeps accuracy below the majority share on
    purpose; a DP-SGD model at a small ε may learn next to nothing, and its "no leakage" then does describe it).
    Returns None when the member accuracy exceeds the majority rate, when the target
    answers no labels (a text audit: NaN accuracy), or when there are no members.
    """
    import numpy as np

    summary = next((t for t in result.targets if t.name == target_name), None)
    is_member = np.asarray(result.is_member, dtype=bool)
    if summary is None or not np.isfinite(summary.accuracy_members) or not is_member.any():
        return None
    _, counts = np.unique(np.asarray(result.labels)[is_member], return_counts=True)
    majority = counts.max() / counts.sum()
    if summary.accuracy_members > majority:
        return None
    return (f"Check the inputs: {target_name} labels its own members correctly only {percent(summary.accuracy_members)} of the "
            f"time, no better than always naming their most common class ({percent(majority)}, {count(int(is_member.sum()))} members). "
            "Unless it was trained to do that (class weights that trade accuracy for the rarer classes, or so much noise, e.g. "
            "DP-SGD at a small ε, or regularisation that it learned next to nothing; then the audit stands), the records probably "
            "do not reach it as it was trained on them (feature order or scale, pixel scale 0–255 vs 0–1, label mapping), and the "
            "scores then describe this input, not the model's training.")


def verdict(result: AuditResult, target_name: str) -> str:
    """One paragraph in plain words on whether ``target_name`` leaks membership, and how much.

    Parameters
    ----------
    result : AuditResult
    target_name : str

    Returns
    -------
    str
        Follows the target's claim (:func:`claim_for`): "Too few records to
        conclude: ..." below the minimum sample; "Scores inverted? check class
        order and labels: ..." when an attack is significantly below chance;
        "No leakage detected ..." when the corrected test finds nothing (not
        proof of privacy); otherwise "Weak / Clear / Severe membership
        leakage: ...", quoting the best attack's AUC and TPR, the correction
        used over how many attacks, the bound behind the grade and what to do next.

    Raises
    ------
    UnknownNameError
        If the audit has no results for ``target_name``.
    """
    pool = _results_for(result, target_name)
    if _text_claim(result) is not None:  # a text audit: the Holm-corrected text claim (privaudit.text.verdict)
        return _text_claim(result).sentence
    claim = claim_for(result, target_name)
    best = result.best(target_name)
    m = best.metrics
    k = len(pool)
    sizes = f"{count(m.n_members)} members vs {count(m.n_nonmembers)} non-members"
    if claim.status == "too_few_records":
        interval = ("Hoeffding's distribution-free interval, valid at this size but wide"
                    if m.auc_ci_method == "hoeffding" else f"{m.auc_ci_method} interval")
        return (f"Too few records to conclude: {count(claim.n_members)} member{'s' if claim.n_members != 1 else ''}, "
                f"{count(claim.n_nonmembers)} non-member{'s' if claim.n_nonmembers != 1 else ''}; at "
                f"least {count(claim.min_members)} members and {count(claim.min_nonmembers)} non-members are needed for a "
                f"verdict on membership leakage either way. The figures shown are descriptive only (best of {k}: {best.attack}, "
                f"{auc_text(m.auc, m.auc_ci, m.confidence)}, the AUC interval by {interval}). Next: audit a larger sample.")
    if claim.status == "scores_inverted":
        names = claim.inverted_attacks()
        p = min(claim.p_lower)
        return (f"Scores inverted? check class order and labels: {', '.join(names)} rank{'s' if len(names) == 1 else ''} members "
                f"below non-members more than chance allows (adjusted p {p_value_text(p, _p_floor(claim))} ≤ α = {claim.alpha:g}; "
                f"{_correction(claim)}), on {sizes}. No verdict is given: a membership attack does not do significantly worse "
                "than chance on correctly labelled data, so the order of the model's output columns, the label column or "
                "the membership column is probably wrong.")
    if claim.status == "none_detected":
        which = f"best of {k} attacks: {best.attack}" if k > 1 else f"attack {best.attack}"
        return (f"No leakage detected: the corrected test over all attacks finds none at α = {claim.alpha:g} ({_correction(claim)}; "
                f"smallest adjusted p {p_value_text(claim.min_p_upper, _p_floor(claim))}; {which}, {auc_text(m.auc, m.auc_ci, m.confidence)}, "
                f"on {sizes}).{_floor_sentence(claim)} This is not proof that the model is private: "
                f"{_next_steps(result, target_name)} may find more." + (f" {untrained}" if (untrained := untrained_input_sentence(result, target_name)) else ""))
    return _graded_text(result, claim, best, sizes)


def report_notes(result: AuditResult) -> list[str]:
    """Caveats that apply to every figure in the report, in plain words, describing what actually ran."""
    if getattr(result, "text", None) is not None:
        from privaudit.report.text_section import text_report_notes

        return text_report_notes(result)
    n_nonmembers = int((~result.is_member.astype(bool)).sum())
    targets = list(dict.fromkeys(r.target for r in result.results))
    claims = [claim_for(result, t) for t in targets]
    sizes = sorted({c.n_attacks for c in claims})
    k_text = " or ".join(str(k) for k in sizes) or "0"
    level = confidence_label(result.confidence)
    tested = [c for c in claims if c.status != "too_few_records"]
    notes = [
        "Scores: for every attack a higher score means the record is more likely a member (training record).",
        (
            f"Claims: each target's verdict comes from one test over all its attacks ({k_text} here): a "
            f"{claims[0].method if claims else 'max-T permutation test'}"
            + (f" with {count(tested[0].n_permutations)} {'draws' if 'normal limit' in tested[0].method else 'random relabellings'}" if tested else "")
            + f", which keeps the chance of a false 'leakage detected' at most α = {1 - result.confidence:g} however many "
            "attacks ran and however alike they are. Grades (weak / clear / severe) use intervals that hold together over every "
            f"attack and every FPR ≤ {fpr_label(GRADING_MAX_FPR)} (Bonferroni at {level}: DeLong for the AUC, Clopper–Pearson "
            f"for TPR and FPR); clear from an AUC lower bound ≥ {CLEAR_AUC:g} or a TPR lower bound ≥ {CLEAR_TPR_RATIO:g}× the "
            f"FPR upper bound, severe from {SEVERE_AUC:g} or {SEVERE_TPR_RATIO:g}×. The tables show each attack's own figures; "
            "the best attack's are chosen on the same records and slightly optimistic. What each claim means and assumes: "
            "docs/claims.md."
        ),
        (
            "The threshold behind each TPR at a fixed FPR is chosen on the evaluated records themselves, which makes "
            "the TPR slightly optimistic, most of all at low FPR."
        ),
        (
            f"A TPR at target FPR f is marked supported only when n_nonmembers × f ≥ {MIN_EXPECTED_FALSE_POSITIVES} "
            f"(MIN_EXPECTED_FALSE_POSITIVES); with fewer non-members the sample cannot resolve that FPR and the figure is "
            f"flagged. This audit has {count(n_nonmembers)} non-members."
        ),
    ]
    methods = {r.metrics.auc_ci_method for r in result.results}
    named = {"bootstrap": "stratified percentile bootstrap", "delong": "DeLong's normal interval (from 50,000 members and non-members each)",
             "hoeffding": "Hoeffding's distribution-free interval where the sample is below the minimum for a verdict or the "
                          "scores separate members from non-members completely (where the others have zero width)"}
    auc_method = ", or ".join(named[m] for m in ("bootstrap", "delong", "hoeffding") if m in methods) or named["bootstrap"]
    notes.append(f"Intervals in the tables are {level}, each on its own: AUC by {auc_method}; TPR and FPR by the exact "
                 "Clopper–Pearson interval at the chosen threshold (not accounting for how it was chosen).")
    if any(c.status == "too_few_records" for c in claims):
        c = claims[0]
        notes.append(f"No verdict either way below {count(c.min_members)} members and {count(c.min_nonmembers)} non-members: "
                     "the tests and intervals cannot support a claim about the model at that size.")
    notes.append(_reference_note(result, targets))
    notes.extend(sentence for t in targets if (sentence := untrained_input_sentence(result, t)))
    if not show_epsilon(result) and any(r.metrics.epsilon_lower_bound is not None for r in result.results):
        notes.append("ε: membership was not randomised by coin flips, so the ε figure is only a heuristic estimate, not a "
                     "lower bound; it is in report.json (labelled heuristic) and not shown here, where it could contradict "
                     "the verdict.")
    return notes


def _reference_part(target: str, info: dict) -> str:
    """``forest: 16 offline reference models, each trained on at most 2,000 records``, or what privaudit chose and why."""
    if info.get("choice"):
        return f"{target}: {count(info['n_models'])} reference models chosen by privaudit — {info['choice']}"
    text = f"{target}: {count(info['n_models'])} {info.get('mode', '')} reference models".replace("  ", " ")
    if info.get("train_size"):
        text += f", each trained on at most {count(info['train_size'])} records"
    return text


def _reference_note(result: AuditResult, targets: list[str]) -> str:
    """What ran: reference models per target, or none."""
    used = {t: result.reference[t] for t in targets if t in result.reference}
    if not used:
        return ("No reference models were trained: these are attacks without reference models. No leakage detected is not "
                "proof of privacy: stronger attacks (reference-model attacks such as LiRA or RMIA) may find more.")
    parts = [_reference_part(t, info) for t, info in used.items()]
    without = [t for t in targets if t not in used]
    if without:
        parts.append(f"{', '.join(without)}: none")
    return (f"Reference models ({'; '.join(parts)}) were used by the reference-model attacks (LiRA, RMIA, calibrated loss). "
            "No leakage detected is not proof of privacy: more reference models or other attacks may find more.")
