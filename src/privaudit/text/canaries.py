"""Secret canaries and their exposure (Carlini et al. 2019, "The Secret Sharer", USENIX Security).

A canary is a formatted sentence with a random secret, e.g. "Hana Lindqvist's
PIN is 516898". Canaries are put into the fine-tuning data (here each one by
an independent fair coin flip, so that the one-run ε bound of Steinke, Nasr &
Jagielski 2023 applies), the model is trained, and each canary's secret is
compared with the other secrets the same format allows.

**Log-perplexity** of a text s, in bits: Px(s) = −Σ_i log₂ p(s_i | s_<i).

**Exposure** of a canary s[r] with secret r from the space R of all secrets
(the Secret Sharer's definitions of rank and exposure)::

    rank(s[r]) = |{ r' ∈ R : Px(s[r']) ≤ Px(s[r]) }|
    exposure(s[r]) = log₂ |R| − log₂ rank(s[r])                     (1)

so exposure ranges from 0 (the real secret is the least likely) to log₂|R|
(the most likely of all). |R| is too large to score every candidate, so the
rank is **estimated from a uniform sample** of n candidates (never the real
secret), with ties counted against the canary as in the Secret Sharer::

    rank ≈ |R| · (1 + #{sampled r' : Px(s[r']) ≤ Px(s[r])}) / (n + 1)
    exposure = log₂(n + 1) − log₂(1 + #{sampled r' : Px(s[r']) ≤ Px(s[r])})   (2)

(:func:`sampled_exposure`, the headline figure). It lies in [0, log₂(n+1)]:
it reaches the top only when the canary beats every sampled candidate, and
it never claims more than the sample can show. For a canary the model never
saw, the real secret is exchangeable with the sampled ones, so
c = #{candidates ≤ canary} is uniform on {0, …, n} and
P(exposure ≥ log₂((n+1)/j)) = j/(n+1) exactly (no ties) — the calibration
``tests/test_text_canary_claims.py`` checks.

The paper's §4 also **extrapolates** beyond the sample: fit a skew-normal
distribution to the candidates' log-perplexities and estimate rank / |R| by
its CDF at Px(s[r]) (:func:`fitted_exposure`, capped at log₂|R|). That is a
model-based estimate, not evidence: the report labels it "extrapolated" and
never uses it as the headline. A canary the model never saw has exposure of
about 1 bit on average (E[−log₂ U] = 1/ln 2 ≈ 1.44 for U uniform).

Everything here is pure numpy/scipy; the model is queried by
:func:`privaudit.text.canary_audit.audit_canaries`.

Example
-------
>>> canaries = make_canaries(2, seed=0)
>>> [c.text for c in canaries]
["Hana Lindqvist's PIN is 516898", "Lucia Jensen's PIN is 007116"]
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np
from scipy import stats

from privaudit.exceptions import DataError

__all__ = [
    "Canary",
    "CanaryExposure",
    "make_canaries",
    "insert_canaries",
    "sample_candidate_secrets",
    "exposure_from_rank",
    "sampled_exposure",
    "candidates_at_or_below",
    "fitted_exposure",
    "log_perplexity_bits",
]

_FIRST = ("Ada", "Lucia", "Tomas", "Mei", "Omar", "Ingrid", "Kofi", "Priya", "Yusuf", "Elena", "Jonas", "Amara", "Diego", "Hana", "Ravi",
          "Sofia", "Mateo", "Nadia", "Felix", "Zara", "Pablo", "Leila", "Henrik", "Aiko", "Samir")
_LAST = ("Moreau", "Haddad", "Novak", "Okafor", "Lindqvist", "Tanaka", "Silva", "Kowalski", "Mensah", "Petrov", "Alvarez", "Fischer",
         "Nakamura", "Rossi", "Kaur", "Dubois", "Jensen", "Costa", "Yilmaz", "Ferreira", "Hughes", "Ivanova", "Bauer", "Santos", "Olsen")


@dataclass(frozen=True)
class Canary:
    """One canary: ``prefix + secret + suffix``; candidates replace only ``secret``."""

    prefix: str
    secret: str
    suffix: str = ""

    @property
    def text(self) -> str:
        return self.with_secret(self.secret)

    def with_secret(self, secret: str) -> str:
        return f"{self.prefix}{secret}{self.suffix}"


def make_canaries(n: int, *, template: str = "{name}'s PIN is {secret}", secret_length: int = 6, alphabet: str = "0123456789",
                  seed: int = 0) -> list[Canary]:
    """``n`` canaries with distinct made-up names and uniformly random secrets of ``secret_length`` symbols from ``alphabet``.

    ``template`` holds ``{secret}`` once and may hold ``{name}``.
    """
    if "{secret}" not in template or template.count("{secret}") != 1:
        raise ValueError("template must contain {secret} exactly once")
    if n > len(_FIRST) * len(_LAST):
        raise ValueError(f"at most {len(_FIRST) * len(_LAST)} canaries have distinct names")
    rng = np.random.default_rng(seed)
    pairs = rng.permutation(len(_FIRST) * len(_LAST))[:n]
    canaries = []
    for index in pairs:
        name = f"{_FIRST[index // len(_LAST)]} {_LAST[index % len(_LAST)]}"
        before, after = template.split("{secret}")
        secret = "".join(rng.choice(list(alphabet), secret_length))
        canaries.append(Canary(before.replace("{name}", name), secret, after.replace("{name}", name)))
    return canaries


def insert_canaries(texts: Sequence[str], canaries: Sequence[Canary], *, repetitions: int = 4, probability: float = 0.5,
                    seed: int = 0) -> tuple[list[str], np.ndarray]:
    """Training texts with each canary inserted ``repetitions`` times by an independent coin flip of ``probability``.

    Returns the shuffled training texts and ``inserted``, bool (n_canaries,).
    With ``probability = 0.5`` the canaries' membership is randomised as the
    one-run ε bound requires.
    """
    if not 0 < probability < 1:
        raise ValueError(f"probability must lie in (0, 1), got {probability}")
    rng = np.random.default_rng(seed)
    inserted = rng.random(len(canaries)) < probability
    out = [str(t) for t in texts] + [c.text for c, flag in zip(canaries, inserted) if flag for _ in range(repetitions)]
    order = rng.permutation(len(out))
    return [out[i] for i in order], inserted


def sample_candidate_secrets(canary: Canary, n: int, *, secret_length: int | None = None, alphabet: str = "0123456789",
                             seed: int = 0) -> list[str]:
    """``n`` distinct random secrets of the canary's format, never its own secret (uniform over the rest of R)."""
    length = secret_length or len(canary.secret)
    space = len(alphabet) ** length
    if n > space - 1:
        raise ValueError(f"only {space - 1} other secrets exist")
    rng = np.random.default_rng(seed)
    chosen: set[str] = set()
    while len(chosen) < n:
        for draw in rng.choice(list(alphabet), (2 * (n - len(chosen)) + 8, length)):
            secret = "".join(draw)
            if secret != canary.secret and len(chosen) < n:
                chosen.add(secret)
    return sorted(chosen)


def log_perplexity_bits(total_log_prob_nats) -> np.ndarray:
    """Px = −Σ log₂ p = −(Σ ln p) / ln 2 from a total natural-log probability."""
    return -np.asarray(total_log_prob_nats, dtype=np.float64) / math.log(2.0)


def exposure_from_rank(rank, space_size: float) -> np.ndarray:
    """Equation (1): log₂|R| − log₂ rank, rank ≥ 1.

    >>> float(exposure_from_rank(1, 2 ** 20))
    20.0
    """
    rank = np.asarray(rank, dtype=np.float64)
    if (rank < 1).any() or (rank > space_size).any():
        raise DataError(f"rank must lie in [1, |R| = {space_size:g}]")
    return math.log2(space_size) - np.log2(rank)


def candidates_at_or_below(canary_bits: float, candidate_bits) -> int:
    """#{candidates with Px ≤ the canary's}: those ranked at or ahead of it (ties count against the canary)."""
    candidate_bits = np.asarray(candidate_bits, dtype=np.float64)
    return int(np.count_nonzero(candidate_bits <= canary_bits))


def sampled_exposure(canary_bits: float, candidate_bits, space_size: float) -> float:
    """Equation (2): exposure from the sampled rank |R|·(1 + #candidates ≤ canary)/(n + 1), in [0, log₂(n + 1)].

    Parameters
    ----------
    canary_bits : float
        Log-perplexity of the canary with its real secret, bits.
    candidate_bits : array, shape (n,)
        Log-perplexities with n other secrets drawn uniformly from R.
    space_size : float
        |R|; the rank estimate never exceeds it (n + 1 ≤ |R|).

    Examples
    --------
    >>> sampled_exposure(1.0, [2.0, 3.0, 4.0], 1e6)   # beats all 3 candidates: log2(4)
    2.0
    >>> sampled_exposure(2.0, [2.0, 3.0, 4.0], 1e6)   # a tie counts against the canary
    1.0
    """
    candidate_bits = np.asarray(candidate_bits, dtype=np.float64)
    n = candidate_bits.size
    if n == 0:
        raise DataError("sampled_exposure needs candidates")
    if n + 1 > space_size:
        raise DataError(f"{n} candidates but only {space_size:g} secrets exist")
    rank = space_size * (1 + candidates_at_or_below(canary_bits, candidate_bits)) / (n + 1)
    return float(exposure_from_rank(rank, space_size))


def fitted_exposure(canary_bits: float, candidate_bits, space_size: float) -> tuple[float, tuple[float, float, float]]:
    """Extrapolated estimate (Secret Sharer §4): −log₂ F(Px(canary)) with F a skew-normal fitted to the candidates' Px; capped at log₂|R|, floored at 0.

    Returns the exposure and the fitted (shape a, loc, scale). The CDF is
    evaluated in log space, so exposures of hundreds of bits stay finite
    before the cap.
    """
    candidate_bits = np.asarray(candidate_bits, dtype=np.float64)
    if candidate_bits.size < 10:
        raise DataError(f"fitted_exposure needs at least 10 candidates, got {candidate_bits.size}")
    if np.ptp(candidate_bits) == 0:
        raise DataError("all candidates have the same log-perplexity; the model does not tell secrets apart")
    shape, loc, scale = stats.skewnorm.fit(candidate_bits)
    log_cdf = float(stats.skewnorm.logcdf(canary_bits, shape, loc, scale))
    if not math.isfinite(log_cdf):  # far in the left tail: the normal tail of the fit bounds it
        log_cdf = float(stats.norm.logcdf((canary_bits - loc) / scale))
    exposure = -log_cdf / math.log(2.0)
    return float(min(max(exposure, 0.0), math.log2(space_size))), (float(shape), float(loc), float(scale))


@dataclass(frozen=True)
class CanaryExposure:
    """One canary's result.

    ``exposure`` is the sampled-rank exposure (2), at most ``max_exposure`` =
    log₂(n_candidates + 1); ``exposure_extrapolated`` the skew-normal
    estimate (``fit`` its shape, loc, scale), at most log₂ ``space_size``.
    """

    text: str
    secret: str
    inserted: bool
    log_perplexity_bits: float
    exposure: float
    exposure_extrapolated: float
    n_candidates: int
    n_candidates_at_or_below: int
    space_size: float
    max_exposure: float
    fit: tuple[float, float, float]

    def to_dict(self) -> dict:
        return asdict(self)
