"""Large audits: the HTML report stays small, the thinned ROC keeps the table's operating points, DeLong's interval covers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from privaudit.metrics import evaluate_scores, roc_curve, tpr_at_fpr
from privaudit.metrics.familywise import delong_variance
from privaudit.metrics.intervals import DELONG_MIN_RECORDS, bootstrap_auc, delong_auc_interval
from privaudit.report.plots import thin_log_curve


def _scores(n: int, seed: int, shift: float = 0.3):
    rng = np.random.default_rng(seed)
    is_member = rng.random(n) < 0.5
    return rng.normal(0.0, 1.0, n) + shift * is_member, is_member


@pytest.mark.parametrize("ties", [False, True])
def test_thinned_roc_is_bounded_and_keeps_the_tables_operating_points(ties):
    scores, is_member = _scores(300_000, 1)
    if ties:
        scores = np.round(scores, 2)  # many tied scores: the ROC has fewer, longer steps
    fpr, tpr, _ = roc_curve(scores, is_member)
    fprs = (0.1, 0.01, 0.001, 0.0001)
    thin_fpr, thin_tpr = thin_log_curve(fpr, tpr, exact_at=fprs)
    assert thin_fpr.size <= 2 * 5 * 200 * 2 + len(fprs)  # bounded by the log grid, whatever the record count
    assert ties or thin_fpr.size < fpr.size / 20
    floor = 1e-5  # thin_log_curve raises zeros to this floor for the log axes
    for f in fprs:
        full = tpr_at_fpr(fpr, tpr, f)[0]
        drawn = tpr_at_fpr(thin_fpr, thin_tpr, f)[0]
        assert drawn == max(full, floor), f


def test_delong_interval_matches_familywise_delong_and_is_cheap_at_large_n():
    scores, is_member = _scores(200_001, 2)
    lower, upper, se = delong_auc_interval(scores, is_member)
    auc, variance = delong_variance(scores, is_member)
    assert se == pytest.approx(float(np.sqrt(variance[0])), rel=1e-9)
    assert (lower + upper) / 2 == pytest.approx(float(auc[0]), abs=1e-12)
    # the bootstrap and DeLong agree on the width at a size both can afford
    small, small_member = scores[:20_000], is_member[:20_000]
    b_lower, b_upper, _ = bootstrap_auc(small, small_member, n_bootstrap=400, seed=0)
    d_lower, d_upper, _ = delong_auc_interval(small, small_member)
    assert (b_upper - b_lower) == pytest.approx(d_upper - d_lower, rel=0.15)


def test_evaluate_scores_switches_to_delong_at_the_switch_size():
    below, below_member = _scores(2 * DELONG_MIN_RECORDS - 2_000, 3)
    above, above_member = _scores(2 * DELONG_MIN_RECORDS + 20_000, 3)
    assert evaluate_scores(below, below_member, n_bootstrap=50, delta=None).auc_ci_method == "bootstrap"
    assert min(above_member.sum(), (~above_member).sum()) >= DELONG_MIN_RECORDS
    assert evaluate_scores(above, above_member, delta=None).auc_ci_method == "delong"


def test_delong_interval_covers_the_true_auc_95_percent_at_the_switch_size():
    """Coverage at the switch size: 300 audits of 50,000 members and 50,000 non-members, true AUC Φ(δ/√2)."""
    shift, n_side, runs = 0.3, DELONG_MIN_RECORDS, 300
    true_auc = float(stats.norm.cdf(shift / np.sqrt(2)))
    rng = np.random.default_rng(7)
    is_member = np.r_[np.ones(n_side, bool), np.zeros(n_side, bool)]
    covered = 0
    for _ in range(runs):
        scores = rng.normal(0.0, 1.0, 2 * n_side) + shift * is_member
        lower, upper, _ = delong_auc_interval(scores, is_member)
        covered += lower <= true_auc <= upper
    sigma = np.sqrt(0.95 * 0.05 / runs)
    assert abs(covered / runs - 0.95) <= 3 * sigma, covered


def test_report_of_250k_records_stays_small(tmp_path):
    """A 250,000-record audit of precomputed outputs: the HTML report is bounded (plots thinned and binned, not per record)."""
    import yaml

    from privaudit.config import load_config
    from privaudit.pipeline import run_audit

    n = 250_000
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, n)
    split = np.where(rng.random(n) < 0.5, "member", "nonmember")
    logits = rng.normal(0.0, 1.0, (n, 2))
    logits[np.arange(n), labels] += 1.0 + 0.4 * (split == "member")
    ids = np.char.add("r", np.arange(n).astype(str))
    pd.DataFrame({"record_id": ids, "label": labels, "split": split}).to_parquet(tmp_path / "data.parquet")
    pd.DataFrame({"record_id": ids, "0": logits[:, 0], "1": logits[:, 1]}).to_parquet(tmp_path / "outputs.parquet")
    config = {"seed": 0, "data": {"path": "data.parquet", "label": "label", "id_column": "record_id", "membership": {"column": "split"}},
              "target": {"name": "model", "type": "precomputed", "path": "outputs.parquet", "outputs": "logits"},
              "attacks": ["loss", "entropy"], "output": "report"}
    (tmp_path / "audit.yaml").write_text(yaml.safe_dump(config))
    config, base = load_config(tmp_path / "audit.yaml")
    result = run_audit(config, base)
    assert {r.metrics.auc_ci_method for r in result.results} == {"delong"}
    result.write_report(tmp_path / "report")
    html = (tmp_path / "report" / "report.html").stat().st_size
    assert html < 1_500_000, html


def _correlated_attacks(n: int, rng, shift: float):
    is_member = rng.random(n) < 0.5
    base = rng.normal(size=n) + shift * is_member
    scores = np.stack([base, base + 0.5 * rng.normal(size=n), np.round(base, 1), rng.normal(size=n) + shift * is_member])
    return scores, is_member


def test_max_t_normal_limit_agrees_with_the_relabellings():
    from privaudit.metrics.familywise import MAX_T_METHOD, NORMAL_MAX_T_METHOD, max_t_test

    scores, is_member = _correlated_attacks(20_000, np.random.default_rng(11), 0.025)
    permuted = max_t_test(scores, is_member, n_permutations=1999, seed=0, normal_from=None)
    normal = max_t_test(scores, is_member, n_permutations=1999, seed=0, normal_from=5_000)
    assert permuted.method == MAX_T_METHOD and normal.method == NORMAL_MAX_T_METHOD
    np.testing.assert_array_equal(permuted.z, normal.z)
    assert 0.01 < permuted.p_upper.min() < 0.5  # p-values in the range where a difference would show
    np.testing.assert_allclose(normal.p_upper, permuted.p_upper, atol=0.04)
    np.testing.assert_allclose(normal.p_lower, permuted.p_lower, atol=0.04)


def test_max_t_normal_limit_holds_its_false_claim_rate_under_the_null():
    """400 null audits (no attack separates members), four correlated attacks: P(min adjusted p ≤ 0.05) ≤ 0.05 + 3σ, p-values uniform."""
    from privaudit.metrics.familywise import max_t_test

    rng = np.random.default_rng(12)
    runs, minimum = 400, []
    for run in range(runs):
        scores, is_member = _correlated_attacks(4_000, rng, 0.0)
        minimum.append(max_t_test(scores, is_member, n_permutations=999, seed=run, normal_from=1_000).p_upper.min())
    minimum = np.asarray(minimum)
    assert (minimum <= 0.05).mean() <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / runs)
    assert stats.kstest(minimum, "uniform").pvalue > 0.001
