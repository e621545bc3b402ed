"""RMIA (Zarifzadeh et al. 2024, "Low-Cost High-Power Membership Inference Attacks").

RMIA compares a record x with population records z (known non-members) by
their likelihood ratios against the reference models (paper eqs. 2–4):

    ratio(x) = Pr(x | θ) / Pr(x),      Pr(x) = mean over reference models of Pr(x | θ_k)
    Score(x) = Pr_z[ ratio(x) / ratio(z) ≥ γ ]

where Pr(x | θ) is the target's probability of the true label (the
``confidence`` signal p_y; ``logit_confidence`` and ``loss`` are converted to
it exactly, by sigmoid and exp(−loss)).

* **online**: Pr(x) averages *all* reference models (IN and OUT for x).
* **offline**: only the models OUT for x, with the paper's linear correction
  for the missing IN models (§4, "offline"):
  Pr(x) = ½((1 + a)·Pr_OUT(x) + (1 − a)). The same is done for z with
  ``population_in_mask``; population records with no OUT model are left out of
  the comparison set (``n_population_used_`` says how many remain).

``a`` (``offline_a``) is tuned as the paper does when not given: one reference
model (the first) plays the target; the audited and population records it
trained on are members, the rest non-members; its population non-members are
the z; RMIA is run with the *other* models' OUT signals for each a on
``OFFLINE_A_GRID`` (0, 0.05, …, 1) and the a with the highest AUC is kept
(the smallest on ties) in ``offline_a_``. Tuning needs ≥ 2 reference models.

Computation: ratio(x)/ratio(z) ≥ γ ⇔ ratio(z) ≤ ratio(x)/γ (ratios > 0), so
the score is ``searchsorted(sort(ratio_z), ratio_x / γ, side="right") / n_z``:
O((n + n_z) log n_z) time and O(n + n_z) memory — never an n × n_z matrix.
For one fixed set z the score is a non-decreasing function of ratio(x), for
any γ: γ and z change the ROC only through ties (the score moves in steps of
1/n_z), and matter for decisions taken at a score threshold.
``side="right"`` makes equality count (the paper's "≥"). The comparison is
made in the form ``ratio_z ≤ ratio_x / γ`` everywhere, including the dense
reference :func:`rmia_scores_dense`, so the two agree exactly; the paper's
form ``ratio_x / ratio_z ≥ γ`` differs from it only by rounding. Pr(x) is
floored at the smallest normal double so a record every model gives p_y = 0
has ratio 0 rather than NaN.

Shapes: target signal ``(n,)``, reference ``(n, K)``; population target
``(n_z,)``, population reference ``(n_z, K)``; scores ``(n,)`` in [0, 1],
higher = member.

**Augmented queries** (``augment``; target ``(n, Q)``, reference
``(n, K, Q)``, the same for z): the paper (§5 and its appendix on
augmentations, following LiRA's multi-query setting) computes the pairwise
likelihood ratio on each of the Q augmented versions of x and z separately
and lets x dominate z by **majority vote** over the augmentations:
x ≻ z ⇔ #{q : ratio_q(x)/ratio_q(z) ≥ γ} > Q/2, and Score(x) = Pr_z[x ≻ z].
Here ratio_q(x) = Pr(x_q | θ)/Pr(x_q), Pr(x_q) the mean over the reference
models' Pr(x_q | θ_k) (offline: OUT models with the same linear correction),
each query with its own reference mean; "more than half" is strict, so with
an even Q a tie (exactly half) does not count. The vote is not a monotone
function of one number per record, so it is computed block-wise over x
(:func:`rmia_multi_query_scores`, O(n · n_z · Q) time, bounded memory), not
by sorting. This rule is implemented from our reading of the paper's
treatment of augmented queries; neither that passage nor the authors' code
for it could be checked while writing this (privacy_meter's public RMIA code
takes one query), so treat it as unverified against the original.
Offline, ``a`` is tuned on query 0 (each record itself). The reported log
likelihood ratio is the sum over queries of log ratio_q(x) (the joint ratio
if the queries were independent).

Example
-------
>>> import numpy as np
>>> rmia_scores(np.array([2.0, 0.5]), np.array([0.4, 1.0, 1.0, 3.0]), gamma=1.0)
array([0.75, 0.25])
"""

from __future__ import annotations

import numpy as np

from privaudit.attacks.base import ATTACKS
from privaudit.attacks.reference import ReferenceAttack, ReferenceSignals, check_reference_signal
from privaudit.exceptions import CapabilityError, ConfigError, DataError

__all__ = [
    "OFFLINE_A_GRID",
    "OFFLINE_A_FIX",
    "RMIAAttack",
    "to_probability",
    "reference_probability",
    "rmia_scores",
    "rmia_scores_dense",
    "rmia_multi_query_scores",
    "tune_offline_a",
]

#: Values of the offline correction ``a`` tried when tuning it.
OFFLINE_A_GRID = np.linspace(0.0, 1.0, 21)

#: how to get past an offline_a that cannot be tuned (config syntax and the Python parameter)
OFFLINE_A_FIX = ("give offline_a in [0, 1] in the attack's entry, e.g. attacks: [{name: rmia, mode: offline, offline_a: 0.5}] "
                 "(RMIAAttack(offline_a=...) in Python), or train more reference models (reference.models, --reference-models)")

_PROBABILITY_FLOOR = float(np.finfo(np.float64).tiny)


def to_probability(values: np.ndarray, signal: str) -> np.ndarray:
    """Pr(x | θ) = p_y from the ``confidence``, ``logit_confidence`` (sigmoid) or ``loss`` (exp(−loss)) signal."""
    values = np.asarray(values, dtype=np.float64)
    if signal == "confidence":
        if values.size and (values.min() < 0 or values.max() > 1):
            raise DataError(f"rmia: 'confidence' values must lie in [0, 1]; found {values.min():.4g} to {values.max():.4g}")
        return values
    if signal == "logit_confidence":
        from scipy.special import expit

        return expit(values)
    if signal == "loss":
        return np.exp(-values)
    raise ConfigError(f"attack 'rmia' needs a probability of the true label: signal must be 'confidence', 'logit_confidence' or 'loss', got {signal!r}")


def reference_probability(reference: np.ndarray, in_mask: np.ndarray, *, mode: str, offline_a: float = 1.0) -> np.ndarray:
    """Pr(x) per record, shape (n,), from reference probabilities ``(n, K)``.

    Online: mean over all K models. Offline: mean over the models with
    ``in_mask`` False, then ½((1 + a)·Pr_OUT + (1 − a)); records with no OUT
    model get NaN (callers drop or refuse them).
    """
    if mode == "online":
        return np.maximum(reference.mean(axis=1), _PROBABILITY_FLOOR)
    out = ~np.asarray(in_mask, dtype=bool)
    counts = out.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_out = np.where(out, reference, 0.0).sum(axis=1) / counts
    corrected = 0.5 * ((1 + offline_a) * mean_out + (1 - offline_a))
    return np.where(counts > 0, np.maximum(corrected, _PROBABILITY_FLOOR), np.nan)


def rmia_scores(ratio_x: np.ndarray, ratio_z: np.ndarray, *, gamma: float = 1.0) -> np.ndarray:
    """Fraction of z with ``ratio_z ≤ ratio_x / γ`` per x, shape (n,), by sorting (no n × n_z matrix)."""
    ratio_z = np.sort(np.asarray(ratio_z, dtype=np.float64))
    threshold = np.asarray(ratio_x, dtype=np.float64) / gamma
    return np.searchsorted(ratio_z, threshold, side="right") / ratio_z.size


def rmia_multi_query_scores(ratio_x: np.ndarray, ratio_z: np.ndarray, *, gamma: float = 1.0, block_cells: int = 1 << 24) -> np.ndarray:
    """Majority-vote RMIA over Q queries: fraction of z with ``ratio_z[z, q] ≤ ratio_x[x, q] / γ`` for more than Q/2 of the q.

    ``ratio_x`` (n, Q), ``ratio_z`` (n_z, Q); returns (n,). Computed over
    blocks of x rows so that at most ``block_cells`` comparisons are held at once.
    With Q = 1 it equals :func:`rmia_scores`.
    """
    ratio_x = np.asarray(ratio_x, dtype=np.float64)
    ratio_z = np.asarray(ratio_z, dtype=np.float64)
    n, q = ratio_x.shape
    threshold = ratio_x / gamma
    scores = np.empty(n)
    step = max(1, block_cells // max(1, ratio_z.shape[0] * q))
    for start in range(0, n, step):
        votes = (ratio_z[None, :, :] <= threshold[start:start + step, None, :]).sum(axis=2)  # (block, n_z)
        scores[start:start + step] = (2 * votes > q).mean(axis=1)
    return scores


def rmia_scores_dense(ratio_x: np.ndarray, ratio_z: np.ndarray, *, gamma: float = 1.0) -> np.ndarray:
    """The same as :func:`rmia_scores` through the full n × n_z comparison matrix; for tests and benchmarks only."""
    ratio_z = np.asarray(ratio_z, dtype=np.float64)
    threshold = np.asarray(ratio_x, dtype=np.float64) / gamma
    return (ratio_z[None, :] <= threshold[:, None]).mean(axis=1)


def tune_offline_a(
    reference: np.ndarray,
    in_mask: np.ndarray,
    population_reference: np.ndarray,
    population_in_mask: np.ndarray,
    *,
    gamma: float = 1.0,
    grid: np.ndarray = OFFLINE_A_GRID,
    pseudo_target: int = 0,
) -> tuple[float, np.ndarray]:
    """Tune the offline correction a on the reference models themselves; returns ``(a, auc per grid value)``.

    Model ``pseudo_target`` plays the target: records (audited ``(n, K)`` and
    population ``(n_z, K)`` probabilities, stacked) with its mask True are
    members, False non-members; its population non-members are the z. The
    other models give Pr_OUT. Records with no OUT model among them are
    skipped. The smallest a with the highest AUC is returned.
    """
    from privaudit.metrics import roc_auc

    probabilities = np.concatenate([reference, population_reference])
    mask = np.concatenate([in_mask, population_in_mask])
    is_population = np.r_[np.zeros(len(reference), bool), np.ones(len(population_reference), bool)]
    others = np.delete(np.arange(probabilities.shape[1]), pseudo_target)
    if others.size == 0:
        raise DataError(f"rmia: tuning offline_a needs at least 2 reference models (one plays the target); {OFFLINE_A_FIX}")
    target = probabilities[:, pseudo_target]
    member = mask[:, pseudo_target]
    usable = (~mask[:, others]).any(axis=1)
    is_z = usable & is_population & ~member
    if not is_z.any() or member[usable].all() or not member[usable].any():
        raise DataError("rmia: tuning offline_a needs, for the pseudo-target reference model, members, non-members and population non-members "
                        f"with OUT models, and these reference models leave no such records; {OFFLINE_A_FIX}")
    aucs = np.empty(len(grid))
    for i, a in enumerate(grid):
        ratio = target / reference_probability(probabilities[:, others], mask[:, others], mode="offline", offline_a=a)
        scores = rmia_scores(ratio[usable], ratio[is_z], gamma=gamma)
        aucs[i] = roc_auc(scores, member[usable])
    return float(grid[int(np.argmax(aucs))]), aucs


@ATTACKS.register("rmia")
class RMIAAttack(ReferenceAttack):
    """Relative membership inference attack (Zarifzadeh et al. 2024); see the module docstring.

    Needs the target's and the reference models' signals on population records z.

    Parameters
    ----------
    mode : {"online", "offline"}
    gamma : float
        Threshold γ > 0 on the pairwise likelihood ratio (larger γ asks x to
        dominate z more strongly).
    offline_a : float in [0, 1] or None
        Offline correction; None tunes it on a reference model (≥ 2 models needed).
    signal : str
        ``"confidence"`` (default), ``"logit_confidence"`` or ``"loss"``.
    augment : bool, dict or None
        Query the augmented copies of x and z (image records only; see the
        module docstring and :func:`~privaudit.augmentations.parse_augment`);
        None (default) for one plain query.

    Attributes
    ----------
    offline_a_ : float
        The a used (given or tuned); set by ``score`` in offline mode.
    offline_a_aucs_ : ndarray or None
        AUC per ``OFFLINE_A_GRID`` value when tuned.
    n_population_used_ : int
        Population records z compared with.
    log_likelihood_ratios_ : ndarray of shape (n,)
        ``log Pr(x|θ) / Pr(x)`` per scored record (the paper's LR(x), before comparing with z).
    """

    name = "rmia"
    needs_population_z = True

    def __init__(self, *, mode: str = "online", gamma: float = 1.0, offline_a: float | None = None, signal: str = "confidence", augment=None) -> None:
        self.mode = mode
        self.gamma = gamma
        self.offline_a = offline_a
        self.signal = signal
        self.augment = augment

    @property
    def display_name(self) -> str:
        augmentation = self.augmentation
        return f"{self.name}[{self.mode},{self.signal}{f',aug={augmentation.key}' if augmentation is not None else ''}]"

    def _check_params(self) -> None:
        if self.mode not in ("online", "offline"):
            raise ConfigError(f"attack 'rmia': mode must be 'online' or 'offline', got {self.mode!r}")
        if not (np.isfinite(self.gamma) and self.gamma > 0):
            raise ConfigError(f"attack 'rmia': gamma must be a positive number, got {self.gamma!r}")
        if self.offline_a is not None and not 0 <= self.offline_a <= 1:
            raise ConfigError(f"attack 'rmia': offline_a must lie in [0, 1] or be None, got {self.offline_a!r}")

    def _score(self, signals, labels, reference: ReferenceSignals) -> np.ndarray:
        self._check_params()
        name, key = self.display_name, self.signal_key(self.signal)
        target_x = np.asarray(signals[key], dtype=np.float64)
        if key not in reference.population_target:
            raise CapabilityError(f"attack '{name}' needs the target's signal '{key}' on population records, which was not computed")
        target_z = np.asarray(reference.population_target[key], dtype=np.float64)
        reference_x = check_reference_signal(reference, key, labels.shape[0], name)
        reference_z = check_reference_signal(reference, key, labels.shape[0], name, population=True)
        queries = 1 if self.augmentation is None else self.augmentation.n_queries
        if queries == 1:
            fits = (target_x.ndim, reference_x.ndim, target_z.ndim, reference_z.ndim) == (1, 2, 1, 2)
        else:
            fits = (target_x.shape[1:] == (queries,) and reference_x.ndim == 3 and reference_x.shape[2] == queries
                    and target_z.shape[1:] == (queries,) and reference_z.ndim == 3 and reference_z.shape[2] == queries)
        if not fits:
            raise DataError(f"attack '{name}' takes {'one query' if queries == 1 else f'{queries} queries'} per record; got target {target_x.shape}, "
                            f"reference {reference_x.shape}, population target {target_z.shape}, population reference {reference_z.shape}")
        if target_z.shape[0] != reference_z.shape[0] or not np.all(np.isfinite(target_z)):
            raise DataError(f"attack '{name}': population target signal {target_z.shape} must be finite with one value per population record {reference_z.shape[0]}")
        p_x, p_z = to_probability(target_x, self.signal), to_probability(target_z, self.signal)
        ref_x, ref_z = to_probability(reference_x, self.signal), to_probability(reference_z, self.signal)
        mask_x = np.asarray(reference.in_mask)
        mask_z = np.asarray(reference.population_in_mask, dtype=bool)

        a = 1.0
        self.offline_a_aucs_ = None
        if self.mode == "offline":
            if self.offline_a is None:  # on query 0, each record itself, when there are several
                a, self.offline_a_aucs_ = tune_offline_a(_first_query(ref_x), mask_x, _first_query(ref_z), mask_z, gamma=self.gamma)
            else:
                a = float(self.offline_a)
            self.offline_a_ = a
        pr_x = _per_query_probability(ref_x, mask_x, mode=self.mode, offline_a=a)
        pr_z = _per_query_probability(ref_z, mask_z, mode=self.mode, offline_a=a)
        if np.isnan(pr_x).any():
            missing = int(np.isnan(pr_x).reshape(len(pr_x), -1).any(axis=1).sum())
            raise DataError(f"attack '{name}': {missing} audited record(s) have no OUT reference model; offline RMIA needs one")
        usable_z = ~np.isnan(pr_z).reshape(len(pr_z), -1).any(axis=1)
        if not usable_z.any():
            raise DataError(f"attack '{name}': no population record has an OUT reference model (each is in the training set of every model), so none can "
                            "serve as z; train more reference models, or each on fewer records than the population "
                            "(reference.train_size, e.g. train_size: members)")
        self.n_population_used_ = int(usable_z.sum())
        with np.errstate(divide="ignore"):  # Pr(x|θ) = 0 gives log LR = −inf, i.e. LR = 0
            log_ratios = np.log(p_x) - np.log(pr_x)  # log Pr(x|θ)/Pr(x), the paper's LR(x)
        if queries == 1:
            self.log_likelihood_ratios_ = log_ratios
            return rmia_scores(p_x / pr_x, p_z[usable_z] / pr_z[usable_z], gamma=self.gamma)
        self.log_likelihood_ratios_ = log_ratios.sum(axis=1)  # the joint ratio if the queries were independent
        return rmia_multi_query_scores(p_x / pr_x, p_z[usable_z] / pr_z[usable_z], gamma=self.gamma)


def _first_query(reference: np.ndarray) -> np.ndarray:
    """``(n, K)`` of query 0 from ``(n, K)`` or ``(n, K, Q)``."""
    return reference if reference.ndim == 2 else reference[:, :, 0]


def _per_query_probability(reference: np.ndarray, in_mask: np.ndarray, *, mode: str, offline_a: float) -> np.ndarray:
    """:func:`reference_probability` for ``(n, K)`` → (n,), or per query for ``(n, K, Q)`` → (n, Q)."""
    if reference.ndim == 2:
        return reference_probability(reference, in_mask, mode=mode, offline_a=offline_a)
    n, k, q = reference.shape
    flat = reference.transpose(0, 2, 1).reshape(n * q, k)
    return reference_probability(flat, np.repeat(np.asarray(in_mask, dtype=bool), q, axis=0), mode=mode, offline_a=offline_a).reshape(n, q)
