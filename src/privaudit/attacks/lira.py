"""LiRA, the likelihood-ratio attack (Carlini et al. 2022, "Membership Inference Attacks From First Principles").

For each record, the reference models' logit-scaled confidences
φ = log p_y − log(1 − p_y) are modelled as Gaussians: N(μ_in, σ_in²) over the
models that trained on the record, N(μ_out, σ_out²) over those that did not
(paper §IV-B, Algorithm 1). The target's φ is then tested against them:

* **online** (Algorithm 1, eq. 4): the log-likelihood ratio
  ``log N(φ; μ_in, σ_in²) − log N(φ; μ_out, σ_out²)``;
* **offline** (§VI-C): a one-sided test against OUT only. The paper's
  statistic is Λ = 1 − Pr[Z > φ] = Φ((φ − μ_out)/σ_out), Z ~ N(μ_out, σ_out²).
  The score here is its log-odds ``log Λ − log(1 − Λ)``, computed as
  ``log_ndtr(t) − log_ndtr(−t)`` with t = (φ − μ_out)/σ_out. It is a strictly
  increasing function of Λ, so a single query gives exactly the paper's ROC;
  but where ``log Λ`` itself rounds to −0.0 for every t ≳ 38 (scipy's
  ``norm.logcdf`` included) — so the most exposed records, which decide the
  low-FPR end, would all tie — the log-odds grows like t²/2 and never ties.

Choices (the paper leaves them open or its code differs):

* μ is the sample **mean** (the paper's notation; its code uses the median);
  σ² the unbiased sample variance (``ddof=1``; its code uses ``ddof=0``, which
  makes the Gaussians too narrow with few models).
* ``variance="auto"`` (default) uses per-record variances only when every
  record has at least :data:`PER_EXAMPLE_MIN_MODELS` models on each side
  used, else the global variance (:func:`resolve_variance` gives the evidence).
* ``variance="global"`` (the paper's "fixed variance", recommended with few
  reference models) pools the within-record variance over all records,
  separately for IN and OUT: Σ_i Σ_k (φ_ik − μ_i)² / Σ_i (n_i − 1). The
  reference code instead takes ``np.std`` of all values together, which also
  counts the spread of μ_i between records, and uses the IN values for both
  sides; pooling residuals estimates what the paper describes.
* **Too few models**: a record needs ≥ 1 OUT model (and, online, ≥ 1 IN model)
  for its mean, else :class:`~privaudit.exceptions.DataError`. A record with
  fewer than 2 models on a side has no variance of its own and uses the pooled
  (global) variance of that side; ``variance_fallback_records_`` counts them.
  When no record has 2 models on a side (e.g. one reference model, offline),
  the pooled variance is the variance of all that side's values together —
  for a single query offline with global variance, σ does not change the
  ranking anyway.
* σ is floored at ``STD_FLOOR`` (1e-6 nats) so identical reference values
  (e.g. saturated outputs) give finite scores.
* **Several queries** (``augment``, paper §VI-B "Augmentations"; target
  ``(n, Q)``, reference ``(n, K, Q)``, the same Q copies of each record from
  :mod:`privaudit.augmentations`): each query gets its own μ and σ and the
  per-query statistics are **summed** — the log-likelihood ratio of Gaussians
  with diagonal covariance, i.e. the queries are treated as independent given
  membership. The reference code (``research/mi_lira_2021/plot.py``,
  ``generate_ours``) fits the same per-query Gaussians and *averages* the
  per-query log-likelihood ratios, which ranks records the same for a fixed
  Q. Offline, the per-query log-odds are summed the same way. The variance
  choice (per-example or global) applies per query.

Shapes: target signal ``(n,)`` or ``(n, Q)``; reference ``(n, K)`` or
``(n, K, Q)``; ``in_mask`` ``(n, K)``; scores ``(n,)``, higher = member.

Example
-------
>>> import numpy as np
>>> target = np.array([[2.0], [0.0]])                     # (n=2, Q=1)
>>> reference = np.array([[[1.], [3.], [-1.], [1.]]] * 2)  # (n=2, K=4, Q=1)
>>> in_mask = np.array([[True, True, False, False]] * 2)
>>> lira_online_scores(target, reference, in_mask).round(3)
array([ 1., -1.])
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy.special import log_ndtr

from privaudit.attacks.base import ATTACKS
from privaudit.attacks.reference import ReferenceAttack, check_reference_signal
from privaudit.exceptions import ConfigError, DataError

__all__ = [
    "STD_FLOOR",
    "PER_EXAMPLE_MIN_MODELS",
    "resolve_variance",
    "LiRAAttack",
    "stack_queries",
    "fit_gaussians",
    "lira_online_scores",
    "lira_offline_scores",
]

#: Smallest standard deviation used (nats of φ), so constant reference values stay finite.
STD_FLOOR = 1e-6

#: fewest reference models a record needs on every side LiRA uses (IN and OUT online, OUT offline) for
#: ``variance="auto"`` to use per-example variances; below it ``auto`` uses the pooled (global) variance.
#: Chosen by measurement (``benchmarks/bench_power.py``, BENCHMARKS.md "Attack power per model trained"):
#: see :func:`resolve_variance`.
PER_EXAMPLE_MIN_MODELS = 8

Variance = Literal["per_example", "global"]
VARIANCES = ("auto", "per_example", "global")


def resolve_variance(variance: str, in_mask: np.ndarray, *, mode: str) -> Variance:
    """The variance LiRA uses: ``variance`` itself, or for ``"auto"`` the choice by the number of models.

    ``"auto"`` gives ``"per_example"`` only when every record has at least
    :data:`PER_EXAMPLE_MIN_MODELS` reference models on each side the statistic
    uses (IN and OUT online, OUT offline), else ``"global"``.

    Evidence for the number (8). Carlini et al. (2022, their "fixed variance")
    find per-example variances pay off only with many reference models and
    recommend the fixed (global) variance below about 64 models. Measured on
    the Adult demo's overfit MLP (``benchmarks/bench_power.py``, BENCHMARKS.md
    "Attack power per model trained"; 1,000 members, TPR at 1 % FPR, two
    draws): with 2 and 4 models per side (online, 4 and 8 models) the
    per-example variance finds 2.3 % / 1.0 % and 5.6 % / 2.7 % of members
    against the global variance's 7.7 % / 7.5 % and 9.6 % / 12.2 % (intervals
    apart); with 8 per side online it is ahead as a point estimate (16 models:
    14.5 % vs 13.1 %, 17.7 % vs 14.3 %; the 95 % intervals overlap); offline
    the two are never separated (2 OUT models 1.7 % vs 2.4 %, 4 OUT 2.0 % vs
    2.4 %, 8 OUT 3.0 % vs 3.2 % — per-example slightly *behind* where ``auto``
    picks it — 16 OUT 4.0 % vs 3.0 %). One target: a measured default, not a
    law (at 0.1 % FPR the evidence at 8 per side is mixed).

    >>> import numpy as np
    >>> resolve_variance("auto", np.zeros((3, 4), bool), mode="offline")
    'global'
    >>> resolve_variance("per_example", np.zeros((3, 4), bool), mode="offline")
    'per_example'
    """
    if variance != "auto":
        return variance  # type: ignore[return-value]
    in_mask = np.asarray(in_mask, dtype=bool)
    per_side = [(~in_mask).sum(axis=1)] + ([in_mask.sum(axis=1)] if mode == "online" else [])
    fewest = min(int(side.min()) for side in per_side) if in_mask.size else 0
    return "per_example" if fewest >= PER_EXAMPLE_MIN_MODELS else "global"


def stack_queries(target: np.ndarray, reference: np.ndarray, *, attack: str) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(target (n, Q), reference (n, K, Q))`` from ``(n,)``/``(n, Q)`` and ``(n, K)``/``(n, K, Q)``."""
    target = np.asarray(target, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    if target.ndim == 1:
        target = target[:, None]
    if reference.ndim == 2:
        reference = reference[:, :, None]
    if target.ndim != 2 or reference.ndim != 3 or reference.shape[0] != target.shape[0] or reference.shape[2] != target.shape[1]:
        raise DataError(
            f"attack '{attack}': target signal {target.shape} and reference {reference.shape} do not match; "
            "expected (n,) with (n, K), or (n, Q) with (n, K, Q)"
        )
    return target, reference


def fit_gaussians(reference: np.ndarray, mask: np.ndarray, *, variance: Variance = "per_example", side: str = "") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-record, per-query Gaussian over the reference values where ``mask`` is True.

    Parameters
    ----------
    reference : array (n, K, Q)
    mask : bool array (n, K)
        Which models' values to use for each record (IN or OUT).
    variance : {"per_example", "global"}
        Own variance per record (records with < 2 values fall back to the
        pooled one) or the pooled within-record variance for all records.
        When no record has 2 values, the pooled variance is that of all
        values together (the reference code's fixed variance).
    side : str
        "IN" or "OUT", named in errors.

    Returns
    -------
    mean, std : arrays (n, Q)
    used_pooled : bool array (n,)
        True where a record's variance is the pooled one.

    Raises :class:`DataError` when a record has no value at all, or when no
    record has two (nothing to estimate a variance from).
    """
    counts = mask.sum(axis=1)
    if np.any(counts == 0):
        raise DataError(f"{int((counts == 0).sum())} record(s) have no {side + ' ' if side else ''}reference model; cannot estimate their mean")
    weights = mask[:, :, None].astype(np.float64)
    mean = (weights * reference).sum(axis=1) / counts[:, None]
    squares = (weights * (reference - mean[:, None, :]) ** 2).sum(axis=1)  # (n, Q)
    dof = counts - 1
    if dof.sum() > 0:
        pooled = squares.sum(axis=0) / dof.sum()  # (Q,)
    else:  # one model per record: only the spread across records is left (the reference code's fixed variance)
        values = reference[np.broadcast_to(mask[:, :, None], reference.shape)].reshape(-1, reference.shape[2])
        pooled = values.var(axis=0)
    used_pooled = np.full(counts.shape, True) if variance == "global" else dof < 1
    with np.errstate(invalid="ignore", divide="ignore"):
        own = squares / dof[:, None]
    var = np.where(used_pooled[:, None], pooled[None, :], own)
    return mean, np.maximum(np.sqrt(var), STD_FLOOR), used_pooled


def _gaussian_log_pdf(x: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    return -np.log(std) - 0.5 * np.log(2 * np.pi) - 0.5 * ((x - mean) / std) ** 2


def lira_online_scores(target: np.ndarray, reference: np.ndarray, in_mask: np.ndarray, *, variance: Variance = "per_example") -> np.ndarray:
    """Σ_q [log N(φ_q; μ_in,q, σ_in,q²) − log N(φ_q; μ_out,q, σ_out,q²)], shape (n,).

    ``target`` (n, Q), ``reference`` (n, K, Q), ``in_mask`` bool (n, K).
    """
    return _online(target, reference, in_mask, variance)[0]


def _online(target, reference, in_mask, variance):
    mean_in, std_in, pooled_in = fit_gaussians(reference, in_mask, variance=variance, side="IN")
    mean_out, std_out, pooled_out = fit_gaussians(reference, ~in_mask, variance=variance, side="OUT")
    ratio = _gaussian_log_pdf(target, mean_in, std_in) - _gaussian_log_pdf(target, mean_out, std_out)
    return ratio.sum(axis=1), pooled_in | pooled_out


def lira_offline_scores(target: np.ndarray, reference: np.ndarray, in_mask: np.ndarray, *, variance: Variance = "per_example") -> np.ndarray:
    """Σ_q logit Φ((φ_q − μ_out,q)/σ_out,q), shape (n,); only OUT values (``~in_mask``) are read.

    ``logit Φ(t) = log Φ(t) − log Φ(−t)``, exact in both tails (see the
    module docstring). ``target`` (n, Q) with members' values *higher*.
    """
    return _offline(target, reference, in_mask, variance)[0]


def _offline(target, reference, in_mask, variance):
    mean_out, std_out, pooled = fit_gaussians(reference, ~in_mask, variance=variance, side="OUT")
    t = (target - mean_out) / std_out
    return (log_ndtr(t) - log_ndtr(-t)).sum(axis=1), pooled


@ATTACKS.register("lira")
class LiRAAttack(ReferenceAttack):
    """Likelihood-ratio attack (Carlini et al. 2022); see the module docstring for the maths.

    Parameters
    ----------
    mode : {"online", "offline"}
        Online fits IN and OUT Gaussians (needs ≥ 1 IN and ≥ 1 OUT model per
        record); offline tests against OUT only.
    variance : {"auto", "per_example", "global"}
        ``"auto"`` (default): per-record variances when every record has at
        least :data:`PER_EXAMPLE_MIN_MODELS` models on each side used, else one
        pooled variance per side (:func:`resolve_variance`, which gives the
        evidence). ``"per_example"`` / ``"global"`` force one choice
        ("fixed variance" in the paper is ``"global"``).
    signal : str
        Registered signal modelled as Gaussian; default ``"logit_confidence"``
        (the paper's φ). It is oriented by its ``member_direction`` first.
    augment : bool, dict or None
        Query each record's augmented copies (image records only): ``True``
        for a mirror and 1-pixel shifts (Q = 18), or ``{flip: bool, shift: int}``
        (:func:`~privaudit.augmentations.parse_augment`); None (default) for
        one plain query. The signal is then read as ``signal@<key>``, shape (n, Q).

    The display name says which variance ran: ``lira[online,logit_confidence]``
    is the per-example variance, ``lira[online,global variance,logit_confidence]``
    the global one. With ``"auto"`` the name is the plain one until ``score``
    has resolved the choice, then that of the variance used, so reports name
    what was computed. A name copied from a report builds (``build_attack``):
    ``lira[<mode>,global variance,…]`` the global variance, the plain name the
    default ``auto`` — which reproduces the per-example variance wherever
    ``auto`` chose it, but not a run of explicit ``variance: per_example``
    below :data:`PER_EXAMPLE_MIN_MODELS` models per side (same plain name):
    give that as ``{name: lira, variance: per_example}``. Two LiRA entries of
    one run share a name only when they computed the same scores (``auto``
    resolved to the variance the other names explicitly).

    Attributes
    ----------
    variance_used_ : {"per_example", "global"}
        Set by ``score``: the variance that was used (``"auto"`` resolved).
    variance_fallback_records_ : int
        Set by ``score``: records that used the pooled variance (all records
        with global variance; with per-example variance those with < 2
        reference models on a side).
    log_likelihood_ratios_ : ndarray of shape (n,) or None
        Set by ``score``: online, each record's log likelihood ratio (the score
        itself); offline ``None`` (a one-sided test against OUT models only).
    """

    name = "lira"

    def __init__(self, *, mode: str = "online", variance: str = "auto", signal: str = "logit_confidence", augment=None) -> None:
        self.mode = mode
        self.variance = variance
        self.signal = signal
        self.augment = augment

    @property
    def display_name(self) -> str:
        used = self.variance if self.variance != "auto" else getattr(self, "variance_used_", "auto")
        fixed = ",global variance" if used == "global" else ""
        augmentation = self.augmentation
        augmented = f",aug={augmentation.key}" if augmentation is not None else ""
        return f"{self.name}[{self.mode}{fixed},{self.signal}{augmented}]"

    def _score(self, signals, labels, reference) -> np.ndarray:
        from privaudit.signals import SIGNALS

        if self.mode not in ("online", "offline"):
            raise ConfigError(f"attack 'lira': mode must be 'online' or 'offline', got {self.mode!r}")
        if self.variance not in VARIANCES:
            raise ConfigError(f"attack 'lira': variance must be one of {', '.join(VARIANCES)}, got {self.variance!r}")
        direction = SIGNALS.get(self.signal).member_direction
        key = self.signal_key(self.signal)
        values = check_reference_signal(reference, key, labels.shape[0], self.display_name)
        target, ref = stack_queries(signals[key], values, attack=self.display_name)
        in_mask = np.asarray(reference.in_mask)
        variance = resolve_variance(self.variance, in_mask, mode=self.mode)
        try:
            if self.mode == "online":
                scores, pooled = _online(direction * target, direction * ref, in_mask, variance)
            else:
                scores, pooled = _offline(direction * target, direction * ref, in_mask, variance)
        except DataError as exc:
            side = "IN and OUT" if self.mode == "online" else "OUT"
            raise DataError(f"attack '{self.display_name}' needs {side} reference models for every record: {exc}") from None
        self.variance_used_ = variance
        self.variance_fallback_records_ = int(pooled.sum())
        # online: the score is the log likelihood ratio log N(φ; IN) / N(φ; OUT); offline is a one-sided test, no ratio
        self.log_likelihood_ratios_ = scores if self.mode == "online" else None
        return scores
