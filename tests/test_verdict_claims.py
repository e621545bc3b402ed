"""The audit verdict as a claim: family-wise correction, grades, small samples, inverted scores, notes and ε display.

Each ``test_issue12_*`` test reproduces one row of issue 12 that the old verdict
(best attack by AUC judged by its own 95 % bootstrap interval) got wrong.
"""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from scipy import stats

from privaudit.pipeline import AttackResult, AuditResult, TargetSummary
from privaudit.exceptions import DataError
from privaudit.metrics import evaluate_scores, roc_auc
from privaudit.metrics.familywise import delong_variance, max_t_test, rank_sum_statistics
from privaudit.metrics.grading import CLEAR_AUC, SEVERE_AUC, target_claim
from privaudit.metrics.small_sample import MIN_MEMBERS, MIN_NONMEMBERS, hoeffding_auc_interval
from privaudit.report import print_summary, render_html, report_dict, verdict

FPRS = (0.1, 0.01, 0.001)


def make_result(columns: dict, is_member, *, target="model", output_kind="probabilities", reference=None,
                randomized=False, n_bootstrap=1000, seed=0) -> AuditResult:
    """An AuditResult over given score columns (attack name → scores), built the way audit() builds one."""
    is_member = np.asarray(is_member, dtype=bool)
    results = [
        AttackResult(target, name, None, np.asarray(scores, dtype=float),
                     evaluate_scores(scores, is_member, fprs=FPRS, n_bootstrap=n_bootstrap, seed=seed,
                                     membership_randomized=randomized))
        for name, scores in columns.items()
    ]
    n = is_member.size
    return AuditResult(
        results=results, targets=[TargetSummary(target, output_kind, 0.9, 0.8)], record_ids=np.arange(n).astype(str),
        is_member=is_member, labels=np.zeros(n, dtype=int), classes=(0, 1), n_population=0, seed=seed, fprs=FPRS,
        confidence=0.95, reference=reference or {}, membership_randomized=randomized,
    )


def terminal_text(result) -> str:
    from rich.console import Console

    console = Console(record=True, width=400)
    print_summary(result, console=console)
    return console.export_text()


# ---------------------------------------------------------------- the maths, against known answers


def test_rank_sum_null_sd_is_the_tie_corrected_mann_whitney_variance():
    rng = np.random.default_rng(4)
    x = np.round(rng.normal(size=60), 1)  # many ties
    member = np.r_[np.ones(25, bool), np.zeros(35, bool)]
    _, _, sd, auc = rank_sum_statistics(x, member)
    assert auc[0] == pytest.approx(roc_auc(x, member))
    z = (auc[0] * 25 * 35 - 25 * 35 / 2) / sd[0]
    reference = stats.mannwhitneyu(x[member], x[~member], method="asymptotic", use_continuity=False).pvalue
    assert 2 * stats.norm.sf(abs(z)) == pytest.approx(reference, rel=1e-10)


def test_max_t_with_one_attack_is_the_exact_permutation_p_value():
    x = np.array([0.1, 0.4, 0.35, 0.8, 0.2, 0.9, 0.5, 0.7])
    member = np.array([1, 0, 1, 1, 0, 1, 0, 0], bool)
    ranks = stats.rankdata(x)
    observed = ranks[member].sum()
    subsets = list(itertools.combinations(range(8), 4))
    exact = sum(ranks[list(s)].sum() >= observed - 1e-9 for s in subsets) / len(subsets)  # 31/70
    test = max_t_test(x, member, n_permutations=40_000, seed=3)
    assert abs(test.p_upper[0] - exact) < 4 * np.sqrt(exact * (1 - exact) / 40_000)


@pytest.mark.parametrize("n_members, n_nonmembers", [(60, 400), (400, 60)])  # few members, few non-members: the subset sampler
def test_max_t_with_one_attack_matches_the_mann_whitney_p_value(n_members, n_nonmembers):
    rng = np.random.default_rng(n_members)
    member = np.r_[np.ones(n_members, bool), np.zeros(n_nonmembers, bool)]
    x = rng.normal(size=member.size) + 0.25 * member
    reference = stats.mannwhitneyu(x[member], x[~member], alternative="greater", method="asymptotic").pvalue
    test = max_t_test(x, member, n_permutations=20_000, seed=1)
    assert abs(test.p_upper[0] - reference) < 4 * np.sqrt(reference * (1 - reference) / 20_000) + 0.005


def test_max_t_of_identical_attacks_equals_the_single_attack_test():
    rng = np.random.default_rng(0)
    member = np.r_[np.ones(80, bool), np.zeros(120, bool)]
    x = rng.normal(size=200) + 0.2 * member
    one = max_t_test(x, member, n_permutations=999, seed=5)
    three = max_t_test(np.stack([x, 2 * x + 1, x]), member, n_permutations=999, seed=5)  # same ranks: no price for copies
    np.testing.assert_allclose(three.p_upper, one.p_upper[0])
    np.testing.assert_allclose(three.p_lower, one.p_lower[0])


def test_max_t_is_seeded_and_refuses_nan():
    member = np.r_[np.ones(60, bool), np.zeros(60, bool)]
    scores = np.random.default_rng(1).normal(size=(4, 120))
    a, b = max_t_test(scores, member, seed=9), max_t_test(scores, member, seed=9)
    np.testing.assert_array_equal(a.p_upper, b.p_upper)
    scores[2, 5] = np.nan
    with pytest.raises(DataError, match="NaN"):
        max_t_test(scores, member)


def test_delong_variance_matches_the_pairwise_formula():
    rng = np.random.default_rng(2)
    member = np.r_[np.ones(30, bool), np.zeros(45, bool)]
    x = np.round(rng.normal(size=75) + 0.5 * member, 1)
    auc, variance = delong_variance(x, member)
    psi = (x[member][:, None] > x[~member][None, :]) + 0.5 * (x[member][:, None] == x[~member][None, :])
    expected = psi.mean(axis=1).var(ddof=1) / 30 + psi.mean(axis=0).var(ddof=1) / 45
    assert auc[0] == pytest.approx(psi.mean()) and variance[0] == pytest.approx(expected)


def test_hoeffding_interval_known_values():
    assert hoeffding_auc_interval(0.85, 1, 300) == (0.0, 1.0)
    low, high = hoeffding_auc_interval(0.7, 10, 10, 0.95)
    assert (low, high) == pytest.approx((0.7 - np.sqrt(np.log(40) / 20), 1.0))


# ---------------------------------------------------------------- issue 12 rows


def test_issue12_best_of_six_null_attacks_is_not_a_leak():
    """Row "audit verdict": six attacks with no leakage at all, a seed where the old rule said 'leaks'."""
    member = np.r_[np.ones(500, bool), np.zeros(500, bool)]
    scores = np.random.default_rng(1).normal(size=(6, 1000))
    result = make_result({f"attack{k}": s for k, s in enumerate(scores)}, member)
    assert result.best("model").metrics.auc_ci[0] > 0.5  # the old rule's "leaks" (AUC 0.538)
    text = verdict(result, "model")
    assert text.startswith("No leakage detected: the corrected test over all attacks finds none at α = 0.05")
    assert "over 6 attacks" in text and "max-T permutation test" in text
    claim = result.claims["model"]
    assert claim.status == "none_detected" and min(claim.p_upper) > 0.05


@pytest.mark.parametrize("n_members, n_nonmembers", [(1, 300), (10, 10)])
def test_issue12_tiny_samples_conclude_nothing(n_members, n_nonmembers):
    rng = np.random.default_rng(0)
    member = np.r_[np.ones(n_members, bool), np.zeros(n_nonmembers, bool)]
    scores = rng.normal(size=member.size) + 2.5 * member  # members score high
    result = make_result({"loss": scores, "confidence": scores + rng.normal(0, 0.1, member.size)}, member)
    text = verdict(result, "model")
    assert text.startswith(f"Too few records to conclude: {n_members} member{'s' if n_members != 1 else ''}, {n_nonmembers} non-members; at least "
                           f"{MIN_MEMBERS} members and {MIN_NONMEMBERS} non-members are needed")
    assert "leakage:" not in text and "No leakage detected" not in text
    for r in result.results:
        assert r.metrics.auc_ci_method == "hoeffding"
        assert r.metrics.auc_ci == pytest.approx(hoeffding_auc_interval(r.metrics.auc, n_members, n_nonmembers))
    assert result.claims["model"].status == "too_few_records" and not result.claims["model"].p_upper
    assert "too few records to conclude</span>" in render_html(result)
    assert report_dict(result)["claims"]["model"]["status"] == "too_few_records"


def test_minimum_sample_is_inclusive():
    member = np.r_[np.ones(MIN_MEMBERS, bool), np.zeros(MIN_NONMEMBERS, bool)]
    scores = np.random.default_rng(3).normal(size=member.size)
    metrics = evaluate_scores(scores, member, n_bootstrap=50, delta=None)
    assert metrics.auc_ci_method == "bootstrap"
    assert target_claim("t", ["a"], scores[None], member, n_permutations=99).status != "too_few_records"


def _labels_only_scores(rng, n, correct_members, correct_nonmembers):
    """A labels-only attack's scores: 1 when the target answers correctly, else 0."""
    member = np.r_[np.ones(n, bool), np.zeros(n, bool)]
    correct = np.r_[rng.random(n) < correct_members, rng.random(n) < correct_nonmembers]
    return correct.astype(float), member


def test_issue12_severity_is_graded_and_the_masking_sentence_needs_clear_evidence():
    """Row "verdict severity": AUC 0.515 (labels-only vendor) and 0.776 no longer share one badge and sentence."""
    rng = np.random.default_rng(0)
    scores, member = _labels_only_scores(rng, 10_000, 0.93, 0.90)  # AUC ≈ 0.515
    faint = make_result({"correctness": scores}, member, target="vendor", output_kind="labels", n_bootstrap=200)
    assert 0.505 < faint.results[0].metrics.auc < 0.525 and faint.results[0].metrics.auc_ci[0] > 0.5
    faint_text = verdict(faint, "vendor")
    assert faint_text.startswith("Weak membership leakage:") and "masking the confidence" not in faint_text
    assert faint.claims["vendor"].status == "weak"
    assert "Next:" in faint_text

    member = np.r_[np.ones(500, bool), np.zeros(500, bool)]
    strong = make_result({"loss": rng.normal(size=1000) + 1.08 * member}, member, target="vendor", output_kind="labels")
    assert strong.results[0].metrics.auc > 0.74
    strong_text = verdict(strong, "vendor")
    assert strong.claims["vendor"].status == "severe" and strong.claims["vendor"].evidence.auc_lower >= SEVERE_AUC
    assert strong_text.startswith("Severe membership leakage:") and "masking the confidence scores did not stop" in strong_text

    faint_page, strong_page = render_html(faint), render_html(strong)
    assert 'class="verdict weak"' in faint_page and "weak leakage</span>" in faint_page
    assert 'class="verdict severe"' in strong_page and "severe leakage</span>" in strong_page
    assert "Verdict [weak leakage]" in terminal_text(faint) and "Verdict [severe leakage]" in terminal_text(strong)


def test_clear_grade_from_the_auc_bound():
    rng = np.random.default_rng(7)
    member = np.r_[np.ones(2000, bool), np.zeros(2000, bool)]
    result = make_result({"loss": rng.normal(size=4000) + 0.45 * member}, member, n_bootstrap=100)  # AUC ≈ 0.62
    from privaudit.report.verdict import claim_for

    claim = claim_for(result, "model")  # computed on first use for a result built by hand
    assert claim.status == "clear" and CLEAR_AUC <= claim.evidence.auc_lower < SEVERE_AUC
    assert verdict(result, "model").startswith("Clear membership leakage:")


def test_grade_from_tpr_at_low_fpr_when_the_auc_is_near_chance():
    """A few members exposed at very low FPR: the AUC bound stays low, the TPR/FPR bound grades it."""
    rng = np.random.default_rng(11)
    n = 5000
    member = np.r_[np.ones(n, bool), np.zeros(n, bool)]
    scores = rng.normal(size=2 * n)
    exposed = rng.choice(n, 300, replace=False)  # 6 % of members far out in the tail
    scores[exposed] += 6.0
    result = make_result({"loss": scores}, member, n_bootstrap=100)
    from privaudit.report.verdict import claim_for

    claim = claim_for(result, "model")
    assert claim.auc_bounds[0][0] < CLEAR_AUC
    assert claim.status in ("clear", "severe") and claim.evidence.kind == "tpr_at_fpr"
    assert claim.evidence.tpr_lower >= 2 * claim.evidence.fpr_upper and claim.evidence.target_fpr <= 0.01
    assert claim.n_simultaneous == 1 * (1 + 1)  # one attack: its AUC and the one supported FPR ≤ 1 % (1 %; 0.1 % needs 10,000)


def test_issue12_inverted_scores_are_flagged_instead_of_a_verdict():
    rng = np.random.default_rng(5)
    member = np.r_[np.ones(400, bool), np.zeros(400, bool)]
    right = rng.normal(size=800) + 0.8 * member
    result = make_result({"loss": -right, "confidence": rng.normal(size=800)}, member)  # swapped class order
    text = verdict(result, "model")
    assert text.startswith("Scores inverted? check class order and labels: loss ranks members below non-members")
    assert result.claims["model"].status == "scores_inverted" and result.claims["model"].inverted_attacks() == ("loss",)
    page = render_html(result)
    assert "scores inverted?</span>" in page and "Scores inverted? check class order and labels" in page
    assert "Verdict [scores inverted?]: Scores inverted? check class order and labels" in terminal_text(result)


def test_issue12_notes_describe_the_reference_models_that_ran():
    rng = np.random.default_rng(6)
    member = np.r_[np.ones(300, bool), np.zeros(300, bool)]
    columns = {"threshold[loss]": rng.normal(size=600), "lira[offline]": rng.normal(size=600) + member,
               "rmia[offline]": rng.normal(size=600) + member}
    reference = {"model": {"n_models": 16, "mode": "offline", "backend": "local", "trained": 16, "reused": 0}}
    with_reference = make_result(columns, member, reference=reference, n_bootstrap=100)
    notes = " ".join(report_dict(with_reference)["notes"])
    assert "without reference models" not in notes
    assert "model: 16 offline reference models" in notes and "over all its attacks (3 here)" in notes
    assert "max-T permutation test" in notes
    without = make_result({"threshold[loss]": columns["threshold[loss]"]}, member, n_bootstrap=100)
    assert "No reference models were trained" in " ".join(report_dict(without)["notes"])


def test_issue12_heuristic_epsilon_only_in_report_json():
    rng = np.random.default_rng(8)
    member = np.r_[np.ones(300, bool), np.zeros(300, bool)]
    plain = make_result({"loss": rng.normal(size=600) + 0.3 * member}, member, n_bootstrap=100)
    assert plain.results[0].metrics.epsilon_lower_bound.valid is False
    page, text = render_html(plain), terminal_text(plain)
    assert "ε lower bound</th>" not in page and '<td class="epsilon">' not in page
    assert "ε lb" not in text and f"{plain.results[0].metrics.epsilon_lower_bound.epsilon_lb:.2f}\n" not in text
    assert "in report.json" in text
    document = json.loads(json.dumps(report_dict(plain)))
    assert document["results"][0]["epsilon_lower_bound"]["label"] == "heuristic estimate"

    randomized = make_result({"loss": rng.normal(size=600) + 0.3 * member}, member, randomized=True, n_bootstrap=100)
    assert randomized.results[0].metrics.epsilon_lower_bound.valid
    assert "ε lower bound</th>" in render_html(randomized) and "ε lb" in terminal_text(randomized)


def test_audit_fills_claims_and_report_json_carries_them(tmp_path):
    from privaudit import AuditData, PrecomputedTarget, RecordSet, audit
    import pandas as pd

    rng = np.random.default_rng(0)
    n = 240
    ids = np.array([f"r{i}" for i in range(n)])
    records = RecordSet(ids, pd.DataFrame({"x": rng.normal(size=n)}), rng.integers(0, 2, n), (0, 1))
    p = np.clip(rng.beta(2, 2, n) + 0.25 * (np.arange(n) < 120) * (records.labels == 1), 0.01, 0.99)
    outputs = pd.DataFrame({"record_id": ids, "0": 1 - p, "1": p})
    data = AuditData(records, np.arange(120), np.arange(120, n), np.array([], dtype=int))
    result = audit(data, [PrecomputedTarget(outputs, name="pre")], n_bootstrap=50, seed=3)
    claim = result.claims["pre"]
    assert claim.attacks == tuple(r.attack for r in result.results) and claim.n_permutations == 1999
    document = report_dict(result)
    assert document["claims"]["pre"]["status"] == claim.status
    assert document["claims"]["pre"]["p_upper"] == pytest.approx(list(claim.p_upper))
