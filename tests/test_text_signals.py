"""Text signals, perturbations, batching and canary maths on inputs whose answer is known by construction."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from privaudit.exceptions import DataError
from privaudit.text.batching import in_order_batches, length_buckets, padding_fraction
from privaudit.text.canaries import (
    Canary, exposure_from_rank, fitted_exposure, insert_canaries, make_canaries, sample_candidate_secrets, sampled_exposure,
)
from privaudit.text.perturb import neighbour_texts, neighbours
from privaudit.text.signals import (
    lowercase_ratio, mean_token_loss, min_k_percent, min_k_plus_plus, neighbourhood_difference, perplexity, reference_difference,
    zlib_entropy, zlib_ratio,
)
from privaudit.text.token_scores import TokenLogProbs


# --- container -------------------------------------------------------------------------------------


def test_token_log_probs_layout_and_sums():
    scores = TokenLogProbs.from_arrays([[-1.0, -2.0, -3.0], [], [-0.5]])
    assert scores.n_texts == 3 and scores.lengths.tolist() == [3, 0, 1]
    assert scores.per_text_sum().tolist() == [-6.0, 0.0, -0.5]
    assert scores.text(2).tolist() == [-0.5]


@pytest.mark.parametrize("bad", [
    dict(log_probs=[-1.0, 0.5], offsets=[0, 2]),          # positive log-probability
    dict(log_probs=[-1.0, np.nan], offsets=[0, 2]),       # NaN
    dict(log_probs=[-1.0, -1.0], offsets=[0, 3]),         # offsets past the end
    dict(log_probs=[-1.0, -1.0], offsets=[0, 2, 1, 2]),   # falling offsets
    dict(log_probs=[-1.0], offsets=[0, 1], vocab_mean=[-1.0]),  # mean without std
])
def test_token_log_probs_refuses_bad_input(bad):
    with pytest.raises(DataError):
        TokenLogProbs(**bad)


def test_per_text_statistics_refuse_texts_without_tokens():
    with pytest.raises(DataError, match="no scored token"):
        mean_token_loss(TokenLogProbs.from_arrays([[-1.0], []]))


# --- signals ---------------------------------------------------------------------------------------


def test_loss_and_perplexity():
    scores = TokenLogProbs.from_arrays([np.log([0.5, 0.5]), np.log([0.25, 0.25, 0.25])])
    np.testing.assert_allclose(mean_token_loss(scores), [math.log(2), math.log(4)])
    np.testing.assert_allclose(perplexity(scores), [2.0, 4.0])


def test_min_k_picks_the_lowest_tokens():
    # text 0: the lowest 20 % of 10 tokens are the two planted at −7 and −9; text 1: one outlier of 5 tokens
    text0 = np.full(10, -0.1)
    text0[[3, 8]] = [-7.0, -9.0]
    text1 = np.array([-0.2, -4.0, -0.2, -0.2, -0.2])
    scores = TokenLogProbs.from_arrays([text0, text1])
    np.testing.assert_allclose(min_k_percent(scores, k=0.2), [-8.0, -4.0])
    np.testing.assert_allclose(min_k_percent(scores, k=1.0), [text0.mean(), text1.mean()])
    # ⌈k·T⌉ with at least one token: k = 0.05 of 5 tokens keeps the single lowest
    np.testing.assert_allclose(min_k_percent(scores, k=0.05), [-9.0, -4.0])
    with pytest.raises(ValueError):
        min_k_percent(scores, k=0.0)


def test_min_k_plus_plus_standardises_each_position():
    # z_t = (ℓ_t − μ_t)/σ_t: text 0 = [(-1+3)/1, (-2+2)/2, (-4+1)/0.5] = [2, 0, -6]; lowest third → −6
    scores = TokenLogProbs.from_arrays([[-1.0, -2.0, -4.0]], vocab_mean=[[-3.0, -2.0, -1.0]], vocab_std=[[1.0, 2.0, 0.5]])
    np.testing.assert_allclose(min_k_plus_plus(scores, k=1 / 3), [-6.0])
    np.testing.assert_allclose(min_k_plus_plus(scores, k=2 / 3), [-3.0])
    np.testing.assert_allclose(min_k_plus_plus(scores, k=1.0), [-4.0 / 3])
    # the token that is likeliest in plain log p is not the one Min-K %++ keeps: the ordering differs from Min-K %
    assert min_k_percent(scores, k=1 / 3)[0] == -4.0
    with pytest.raises(DataError, match="vocab"):
        min_k_plus_plus(TokenLogProbs.from_arrays([[-1.0]]))


def test_zlib_ratio_prefers_hard_to_compress_text_at_equal_loss():
    texts = ["la la la la la la la la la la la la", "quartz jigs vex my bold wharf nymphs"]
    bits = zlib_entropy(texts)
    assert bits[0] < bits[1]
    ratio = zlib_ratio(np.array([1.0, 1.0]), bits)
    assert ratio[0] > ratio[1]          # members score −ratio: the varied text ranks as the more likely member
    with pytest.raises(DataError):
        zlib_ratio(np.array([1.0]), np.array([1.0, 2.0]))


def test_lowercase_reference_neighbourhood_differences():
    np.testing.assert_allclose(lowercase_ratio(np.array([0.5, 2.0]), np.array([2.0, 2.0])), [0.25, 1.0])
    np.testing.assert_allclose(reference_difference(np.array([1.0, 3.0]), np.array([3.0, 3.0])), [2.0, 0.0])
    np.testing.assert_allclose(neighbourhood_difference(np.array([1.0, 2.0]), np.array([[2.0, 4.0], [2.0, 2.0]])), [2.0, 0.0])
    with pytest.raises(DataError):
        neighbourhood_difference(np.array([1.0, 2.0]), np.array([1.0, 2.0]))


# --- neighbours ------------------------------------------------------------------------------------


def test_neighbours_are_seeded_word_edits_of_the_text():
    text = "the quick brown fox jumps over the lazy dog today"
    first = neighbours(text, n_neighbours=6, seed=3)
    assert first == neighbours(text, n_neighbours=6, seed=3)
    assert first != neighbours(text, n_neighbours=6, seed=4)
    words = text.split()
    for neighbour in first:
        assert neighbour != text
        assert set(neighbour.split()) <= set(words)                 # swaps, deletions, duplications only
        assert abs(len(neighbour.split()) - len(words)) <= 1        # one edit per 10 words
    flat = neighbour_texts(["a b c", text], n_neighbours=3, seed=3)
    assert len(flat) == 6 and flat[3:] == first[:3]                 # independent of the other texts


# --- batching --------------------------------------------------------------------------------------


def test_length_buckets_cover_every_text_once_and_cut_padding():
    rng = np.random.default_rng(0)
    lengths = rng.integers(5, 200, size=500)
    buckets = length_buckets(lengths, batch_size=16, max_batch_tokens=1024)
    assert np.array_equal(np.sort(np.concatenate(buckets)), np.arange(500))
    assert all(b.size * lengths[b].max() <= 1024 or b.size == 1 for b in buckets)
    assert padding_fraction(lengths, buckets) < 0.05 < padding_fraction(lengths, in_order_batches(500, batch_size=16))


# --- canaries --------------------------------------------------------------------------------------


def test_canaries_and_coin_flip_insertion():
    canaries = make_canaries(40, seed=1)
    assert len({c.prefix for c in canaries}) == 40 and all(len(c.secret) == 6 and c.secret.isdigit() for c in canaries)
    texts, inserted = insert_canaries(["a", "b"], canaries, repetitions=3, seed=1)
    assert 10 < inserted.sum() < 30
    assert len(texts) == 2 + 3 * int(inserted.sum())
    for canary, flag in zip(canaries, inserted):
        assert texts.count(canary.text) == (3 if flag else 0)
    candidates = sample_candidate_secrets(canaries[0], 50, seed=0)
    assert len(set(candidates)) == 50 and canaries[0].secret not in candidates


def test_exposure_from_rank_is_the_secret_sharer_definition():
    np.testing.assert_allclose(exposure_from_rank([1, 2, 1024], 1024), [10.0, 9.0, 0.0])
    with pytest.raises(DataError):
        exposure_from_rank(0, 1024)


def test_fitted_exposure_extrapolates_the_rank_like_the_true_distribution():
    # candidates' log-perplexities ~ N(40, 3²); a canary at 40 − 3·4 = 28 bits has rank/|R| ≈ Φ(−4)
    rng = np.random.default_rng(0)
    candidates = rng.normal(40.0, 3.0, size=2000)
    exposure, fit = fitted_exposure(28.0, candidates, 1e6)
    assert exposure == pytest.approx(-stats.norm.logcdf(-4.0) / math.log(2), rel=0.1)   # ≈ 14.9 bits, from 2,000 samples (≈ 11 bits)
    assert fit[2] > 0
    # a canary in the middle of the candidates has exposure about 1 bit; the cap is log2 |R|
    assert fitted_exposure(40.0, candidates, 1e6)[0] == pytest.approx(1.0, abs=0.2)
    assert fitted_exposure(-1e4, candidates, 1e6)[0] == pytest.approx(math.log2(1e6))
    # sampled rank (issue 12): no candidate at or below → rank |R|/(n+1) → log2(n+1), never log2|R|; half below → about 1 bit
    assert sampled_exposure(0.0, candidates, 1e6) == pytest.approx(math.log2(2001))
    assert sampled_exposure(40.0, candidates, 1e6) == pytest.approx(1.0, abs=0.1)


def test_canary_text_with_another_secret():
    canary = Canary("Ada's PIN is ", "1234", ".")
    assert canary.text == "Ada's PIN is 1234." and canary.with_secret("0000") == "Ada's PIN is 0000."
