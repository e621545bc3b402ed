"""Issue 12 for text: the text report's claim over several attacks is corrected for choosing the best, and tiny samples get no claim."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest

from privaudit.text.token_scores import TokenLogProbs
from privaudit.text.verdict import MIN_MEMBERS, MIN_NONMEMBERS, holm_adjusted, mann_whitney_p_value, text_leakage_claim

ALPHA = 0.05


def mc_limit(rate: float, runs: int) -> float:
    """Nominal rate plus two Monte-Carlo standard errors."""
    return rate + 2 * math.sqrt(rate * (1 - rate) / runs)


def null_attacks(rng, n_members: int, n_nonmembers: int, k: int, rho: float) -> dict[str, np.ndarray]:
    """k attacks whose scores ignore membership; pairwise correlation rho through one shared component."""
    n = n_members + n_nonmembers
    shared = rng.normal(size=n)
    return {f"a{j}": math.sqrt(rho) * shared + math.sqrt(1 - rho) * rng.normal(size=n) for j in range(k)}


def test_holm_and_mann_whitney_exact_cases():
    np.testing.assert_allclose(holm_adjusted([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])
    np.testing.assert_allclose(holm_adjusted([0.5]), [0.5])
    np.testing.assert_allclose(holm_adjusted([0.6, 0.001]), [0.6, 0.002])
    # members all above non-members, 3 vs 3: exact one-sided p = 1 / C(6, 3) = 0.05
    assert mann_whitney_p_value([4, 5, 6, 1, 2, 3], [True] * 3 + [False] * 3) == pytest.approx(1 / 20)
    assert mann_whitney_p_value([1, 2, 3, 4, 5, 6], [True] * 3 + [False] * 3) == pytest.approx(1.0)


@pytest.mark.parametrize("n_members, n_nonmembers", [(1, 300), (10, 10), (MIN_MEMBERS - 1, 500), (500, MIN_NONMEMBERS - 1)])
def test_tiny_samples_get_no_claim_even_with_a_perfect_attack(n_members, n_nonmembers):
    is_member = np.r_[np.ones(n_members, bool), np.zeros(n_nonmembers, bool)]
    claim = text_leakage_claim({"loss": is_member.astype(float)}, is_member)
    assert claim.status == "too_few"
    assert f"{n_members} members, {n_nonmembers} non-members" in claim.sentence and str(MIN_MEMBERS) in claim.sentence
    assert "leakage" not in claim.sentence.split(";")[0]


def test_a_real_signal_is_claimed_and_named():
    rng = np.random.default_rng(0)
    is_member = np.r_[np.ones(200, bool), np.zeros(200, bool)]
    attacks = null_attacks(rng, 200, 200, 5, 0.0)
    attacks["loss"] = rng.normal(size=400) + 0.8 * is_member
    claim = text_leakage_claim(attacks, is_member, aucs={name: (0.7 if name == "loss" else 0.5, 0.6, 0.8) for name in attacks})
    assert claim.status == "leaks" and "loss" in claim.significant and claim.n_attacks == 6
    assert "Holm-corrected over 6 attacks" in claim.sentence and "strongest loss" in claim.sentence


@pytest.mark.slow
@pytest.mark.parametrize("rho", [0.0, 0.7])
def test_family_wise_false_claim_rate_under_the_null(rho):
    """No leakage, 6 attacks, 200 + 200 texts, 400 seeds: claims of leakage ≤ α + 2 MC SE (uncorrected best-of-6: ~14 %)."""
    runs, claims, uncorrected = 400, 0, 0
    is_member = np.r_[np.ones(200, bool), np.zeros(200, bool)]
    for seed in range(runs):
        rng = np.random.default_rng(seed)
        attacks = null_attacks(rng, 200, 200, 6, rho)
        claim = text_leakage_claim(attacks, is_member, confidence=1 - ALPHA)
        claims += claim.status == "leaks"
        uncorrected += min(claim.p_values.values()) <= ALPHA
        assert claim.status in ("leaks", "none_detected")
    assert claims / runs <= mc_limit(ALPHA, runs), (claims, runs)
    assert uncorrected > claims                 # the correction is doing something


class HashScorer:
    """A stand-in language model: each token's log-probability is a fixed function of the token (no memorisation)."""

    name = "hash-lm"

    def token_log_probs(self, texts, *, vocab_stats: bool = False) -> TokenLogProbs:
        per_text = []
        for text in texts:
            tokens = text.split() or [text]
            per_text.append(np.array([-1.0 - int(hashlib.sha256(t.encode()).hexdigest()[:6], 16) / 2**24 * 8 for t in tokens]))
        return TokenLogProbs.from_arrays(per_text)


def test_text_audit_reports_the_claim(tmp_path):
    from privaudit.pipeline.text_audit import audit_text
    from privaudit.report import render_html, report_dict

    rng = np.random.default_rng(3)
    words = [f"w{i}" for i in range(300)]
    texts = [" ".join(rng.choice(words, 12)) for _ in range(16)]
    small = audit_text(HashScorer(), texts[:8], texts[8:], attacks=["loss", "zlib"], n_bootstrap=50, fprs=(0.1,), blind=False)
    document = report_dict(small)["text"]
    assert document["claim"]["status"] == "too_few" and document["claim"]["n_members"] == 8
    assert "Too few texts to conclude: 8 members, 8 non-members" in render_html(small)
    texts = [" ".join(rng.choice(words, 12)) for _ in range(120)]
    result = audit_text(HashScorer(), texts[:60], texts[60:], attacks=["loss", "zlib", "min_k"], n_bootstrap=50, fprs=(0.1,), blind=False)
    assert result.text.claim.n_attacks == 3 and result.text.claim.status in ("leaks", "none_detected")
    assert "Holm" in report_dict(result)["text"]["claim"]["method"]


def test_a_leak_claim_beside_a_distribution_shift_says_so():
    rng = np.random.default_rng(1)
    is_member = np.r_[np.ones(100, bool), np.zeros(100, bool)]
    attacks = {"loss": rng.normal(size=200) + 1.0 * is_member}
    plain = text_leakage_claim(attacks, is_member)
    shifted = text_leakage_claim(attacks, is_member, distribution_shift=True)
    assert plain.status == shifted.status == "leaks"
    assert "not memorisation" in shifted.sentence and "not memorisation" not in plain.sentence
