"""Text membership signals: pure functions of token log-probabilities (and of the texts).

Notation: a text x has T scored tokens with log-probabilities
ℓ_t = log p(x_t | x_<t) (nats) under the audited model. Every function returns
float64 of shape ``(n_texts,)``; the attacks in :mod:`privaudit.text.attacks`
orient them so that higher = more likely a member.

* mean token loss      L(x) = −(1/T) Σ_t ℓ_t                      (members: lower)
* perplexity           PPL(x) = exp L(x)                           (members: lower)
* zlib entropy         Z(x) = 8 · len(zlib.compress(utf-8 bytes of x)) bits
* zlib ratio           L(x) / Z(x)            (Carlini et al. 2021) (members: lower)
* lowercase ratio      L(x) / L(lower(x))     (Carlini et al. 2021) (members: lower)
* Min-K % Prob         (1/|S|) Σ_{t ∈ S} ℓ_t, S = the ⌈k·T⌉ tokens of lowest ℓ_t
                                              (Shi et al. 2024)     (members: higher)
* Min-K %++            (1/|S|) Σ_{t ∈ S} z_t, z_t = (ℓ_t − μ_t)/σ_t, S = the ⌈k·T⌉ lowest z_t
                                              (Zhang et al. 2025)   (members: higher)
* reference difference L_ref(x) − L(x)        (Carlini et al. 2021) (members: higher)
* neighbourhood        (1/m) Σ_j L(x̃_j) − L(x) (Mattern et al. 2023) (members: higher)

Example
-------
>>> import numpy as np
>>> from privaudit.text.token_scores import TokenLogProbs
>>> lp = TokenLogProbs.from_arrays([[-0.1, -3.0, -0.2, -0.1, -0.1]])
>>> min_k_percent(lp, k=0.2).tolist()   # the one lowest token of five
[-3.0]
"""

from __future__ import annotations

import math
import zlib
from typing import Sequence

import numpy as np

from privaudit.exceptions import DataError
from privaudit.text.token_scores import TokenLogProbs

__all__ = [
    "mean_token_loss",
    "perplexity",
    "zlib_entropy",
    "zlib_ratio",
    "lowercase_ratio",
    "lowest_k_mean",
    "min_k_percent",
    "min_k_plus_plus",
    "reference_difference",
    "neighbourhood_difference",
    "MIN_VOCAB_STD",
]

#: σ_t below this (a next-token distribution concentrated on one token) is raised to it in Min-K %++.
MIN_VOCAB_STD = 1e-6


def mean_token_loss(scores: TokenLogProbs) -> np.ndarray:
    """L(x) = −(1/T) Σ_t log p(x_t | x_<t), nats per token, shape (n_texts,). Members: lower.

    Texts with no scored token are refused (:class:`DataError`).
    """
    scores.require_tokens("mean_token_loss")
    return -scores.per_text_sum() / scores.lengths


def perplexity(scores: TokenLogProbs) -> np.ndarray:
    """PPL(x) = exp L(x) (the LOSS attack's statistic as a perplexity). Members: lower."""
    return np.exp(mean_token_loss(scores))


def zlib_entropy(texts: Sequence[str]) -> np.ndarray:
    """Z(x) = 8 · len(zlib.compress(x.encode("utf-8"), 9)): bits zlib needs for the text, shape (n_texts,).

    >>> bool(zlib_entropy(["ab" * 50])[0] < zlib_entropy(["the quick brown fox jumps over a lazy dog ok"])[0])
    True
    """
    return np.array([8.0 * len(zlib.compress(str(text).encode("utf-8"), 9)) for text in texts], dtype=np.float64)


def _check_same(name: str, a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise DataError(f"{name}: shapes {a.shape} and {b.shape} differ (one value per text each)")


def zlib_ratio(loss: np.ndarray, zlib_bits: np.ndarray) -> np.ndarray:
    """L(x) / Z(x) (Carlini et al. 2021, §5.2 "zlib"): model surprise relative to generic compressibility. Members: lower.

    Text that is merely simple (repetitive, formulaic) has both low L and low
    Z; a memorised text has low L but ordinary Z.
    """
    loss, zlib_bits = np.asarray(loss, float), np.asarray(zlib_bits, float)
    _check_same("zlib_ratio", loss, zlib_bits)
    if (zlib_bits <= 0).any():
        raise DataError("zlib_ratio: zlib entropy must be positive")
    return loss / zlib_bits


def lowercase_ratio(loss: np.ndarray, loss_lowercase: np.ndarray) -> np.ndarray:
    """L(x) / L(lower(x)) (Carlini et al. 2021, §5.2 "Lowercase"). Members: lower.

    Memorisation is of the exact casing; lower-casing removes it, so for a
    member L(x) drops more than L(lower(x)). A ratio of two mean losses, each
    > 0 (a loss of exactly 0 is raised to 1e-12 nats).
    """
    loss, loss_lowercase = np.asarray(loss, float), np.asarray(loss_lowercase, float)
    _check_same("lowercase_ratio", loss, loss_lowercase)
    return np.maximum(loss, 1e-12) / np.maximum(loss_lowercase, 1e-12)


def _lowest_count(length: int, k: float) -> int:
    return max(1, math.ceil(k * length - 1e-9))


def lowest_k_mean(scores: TokenLogProbs, values: np.ndarray, k: float) -> np.ndarray:
    """Per text, the mean of its ⌈k·T⌉ lowest ``values`` (at least one), shape (n_texts,).

    ``values`` is aligned with ``scores.log_probs`` (one value per scored token).
    """
    if not 0 < k <= 1:
        raise ValueError(f"k must lie in (0, 1], got {k}")
    scores.require_tokens("Min-K %")
    values = np.asarray(values, dtype=np.float64)
    out = np.empty(scores.n_texts)
    for i in range(scores.n_texts):
        segment = values[scores.offsets[i] : scores.offsets[i + 1]]
        count = _lowest_count(segment.size, k)
        out[i] = np.partition(segment, count - 1)[:count].mean()
    return out


def min_k_percent(scores: TokenLogProbs, k: float = 0.2) -> np.ndarray:
    """Min-K % Prob (Shi et al. 2024, "Detecting Pretraining Data from Large Language Models"). Members: higher.

    Min-K%(x) = (1/|S|) Σ_{t ∈ S} log p(x_t | x_<t), with S the ⌈k·T⌉ tokens
    of lowest log-probability (k = 20 % by default). An unseen text tends to
    contain a few outlier tokens of very low probability; a member does not.
    """
    return lowest_k_mean(scores, scores.log_probs, k)


def min_k_plus_plus(scores: TokenLogProbs, k: float = 0.2) -> np.ndarray:
    """Min-K %++ (Zhang et al. 2025, "Min-K%++: Improved baseline for detecting pre-training data from LLMs"). Members: higher.

    z_t = (log p(x_t | x_<t) − μ_t) / σ_t with μ_t, σ_t the mean and standard
    deviation of log p(z | x_<t) for z drawn from the model's next-token
    distribution; the score is the mean of the ⌈k·T⌉ lowest z_t. Training
    pushes each training token towards a local maximum of the likelihood, so
    members sit high relative to the rest of the vocabulary at every position.
    Needs ``scores.vocab_mean`` and ``vocab_std``.
    """
    if not scores.has_vocab_stats:
        raise DataError("Min-K %++ needs the mean and standard deviation of log p over the vocabulary at each position (vocab_stats=True)")
    z = (scores.log_probs - scores.vocab_mean) / np.maximum(scores.vocab_std, MIN_VOCAB_STD)
    return lowest_k_mean(scores, z, k)


def reference_difference(loss: np.ndarray, loss_reference: np.ndarray) -> np.ndarray:
    """L_ref(x) − L(x): the per-token log-likelihood ratio log p(x)/p_ref(x) (Carlini et al. 2021 "Small/Medium"). Members: higher.

    Text that is easy for any model (low L_ref) is not counted as memorised
    unless the audited model finds it easier still.
    """
    loss, loss_reference = np.asarray(loss, float), np.asarray(loss_reference, float)
    _check_same("reference_difference", loss, loss_reference)
    return loss_reference - loss


def neighbourhood_difference(loss: np.ndarray, neighbour_loss: np.ndarray) -> np.ndarray:
    """(1/m) Σ_j L(x̃_j) − L(x) (Mattern et al. 2023, "Membership Inference Attacks against Language Models via Neighbourhood Comparison"). Members: higher.

    ``neighbour_loss`` has shape (n_texts, m): the mean token loss of m
    perturbed copies of each text. A member's own loss is low relative to its
    close neighbours, which the model did not see.
    """
    loss, neighbour_loss = np.asarray(loss, float), np.asarray(neighbour_loss, float)
    if neighbour_loss.ndim != 2 or neighbour_loss.shape[0] != loss.shape[0] or neighbour_loss.shape[1] < 1:
        raise DataError(f"neighbour losses must have shape (n_texts, m ≥ 1) = ({loss.shape[0]}, m), got {neighbour_loss.shape}")
    return neighbour_loss.mean(axis=1) - loss
