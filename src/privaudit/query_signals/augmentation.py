"""Augmentation robustness: the share of randomly perturbed copies of a record the target still labels correctly.

Choquette-Choo, Tramèr, Carlini & Papernot (2021), "Label-Only Membership
Inference Attacks" (ICML), data-augmentation attack: for a record (x, y),
query the target h on the record and on N augmented copies x̂₁…x̂_N, and
use the correctness indicators

    b₀ = 1[h(x) = y],   b_i = 1[h(x̂_i) = y]   (i = 1…N)

as the attack's features. A model is more robust around records it was
trained on, so members keep their label under more perturbations. The paper
feeds (b₀, …, b_N) to an attack model; the threshold attack on their sum is
the simplest such model and the one used here:

    robustness(x, y) = (b₀ + Σ_i b_i) / (N + 1)   ∈ [0, 1],   members: higher.

The paper augments images (translations, rotations) and, for tabular data
with binary features, flips features at random. For mixed tabular records
privaudit's augmentation (a documented choice, not the paper's) is, per copy
and independently (:class:`~privaudit.query_signals.space.FeatureSpace`):

* every numeric column moves by σ·s_j·ε, ε ~ N(0, 1), in units of its standard
  deviation s_j (then clipped to the observed range, and rounded where the column
  holds whole numbers);
* every categorical cell is replaced with probability p by a different observed
  value, drawn in proportion to the values' frequencies.

For a linear classifier, numeric columns only, no clipping or rounding, the
expected share of correct copies is Φ(d/σ) for a record at signed distance d
(standardised units) from the decision boundary — a smooth proxy for the
boundary distance of :mod:`~privaudit.query_signals.boundary`.

b₀ is the target's answer to the plain query the audit already made, so the
signal spends exactly N = ``k`` queries per record.
"""

from __future__ import annotations

import numpy as np

from privaudit.exceptions import CapabilityError, ConfigError
from privaudit.query_signals.base import QUERY_SIGNALS, QuerySignal, check_number, check_whole_number

__all__ = ["augmentation_robustness", "check_augmentation_params", "augmentation_applies"]


def check_augmentation_params(*, k=10, sigma=0.0, flip_p=0.1) -> dict:
    """Validated ``{k, sigma, flip_p}``: k ≥ 1 copies, σ ≥ 0 (standard deviations), p ∈ [0, 1], not both σ = 0 and p = 0."""
    checked = {
        "k": check_whole_number("k (copies per record)", k, 1),
        "sigma": check_number("sigma (noise, in standard deviations)", sigma, low=0.0),
        "flip_p": check_number("flip_p (probability of changing a categorical value)", flip_p, low=0.0, high=1.0),
    }
    if checked["sigma"] == 0 and checked["flip_p"] == 0:
        raise ConfigError("sigma and flip_p are both 0, so every copy would equal its record; set sigma > 0 or flip_p > 0")
    return checked


def augmentation_applies(space, *, k: int, sigma: float, flip_p: float) -> None:
    """Raise :class:`CapabilityError` when these parameters leave every copy of every record unchanged."""
    can_move = bool(space.movable.any()) and sigma > 0
    can_flip = flip_p > 0 and any(f.size > 1 for f in space.frequencies)
    if not (can_move or can_flip):
        raise CapabilityError(
            f"augmentation with sigma={sigma:g}, flip_p={flip_p:g} would leave every copy equal to its record: "
            f"the data has {int(space.movable.sum())} numeric column(s) that vary and "
            f"{sum(f.size > 1 for f in space.frequencies)} categorical column(s) with more than one value"
        )


def augmentation_robustness(oracle, correct: np.ndarray, rng: np.random.Generator, *, k: int, sigma: float, flip_p: float) -> np.ndarray:
    """Share of (record + k perturbed copies) the target labels correctly, shape (n,), in [0, 1]. Members: higher.

    Parameters
    ----------
    oracle : LabelOracle
        Over the n records; spends exactly ``k`` queries on each.
    correct : bool array (n,)
        Whether the target labels each unperturbed record correctly (b₀).
    rng : numpy Generator
        Draws the noise (n·k × m standard normals, record by record) and then the flips.
    k, sigma, flip_p
        See :func:`check_augmentation_params`.
    """
    space = oracle.space
    augmentation_applies(space, k=k, sigma=sigma, flip_p=flip_p)
    n = oracle.labels.size
    owner = np.repeat(np.arange(n), k)
    delta = rng.standard_normal((owner.size, len(space.numeric))) * sigma
    numeric = space.move(oracle.numeric[owner], delta)
    codes = space.flip(oracle.codes[owner], flip_p, rng)
    hits = oracle.ask(owner, numeric, codes) == oracle.labels[owner]
    correct = np.asarray(correct, dtype=bool)
    return (correct + hits.reshape(n, k).sum(axis=1)) / (k + 1.0)


QUERY_SIGNALS.register("augmentation_robustness")(
    QuerySignal("augmentation_robustness", augmentation_robustness, +1, check_augmentation_params, augmentation_applies,
                "share of the record and k perturbed copies labelled correctly (Choquette-Choo et al. 2021)",
                budget=lambda k=10, **_: int(k))
)
