"""Flip distance: how many categorical values must change, in random orders, before the target changes a record's label.

A label-only robustness signal that does not tie at the top. It follows the
data-augmentation attack of Choquette-Choo, Tramèr, Carlini & Papernot (2021),
"Label-Only Membership Inference Attacks" (ICML) — members keep their label
under more perturbations — and the *perturbation strength needed to change the
label* of Li & Zhang (2021), "Membership Leakage in Label-Only Exposures"
(CCS; their transfer/boundary attacks score the size of the perturbation that
flips the predicted label). On mixed tabular records the natural unit of
perturbation is one categorical value, so the strength is a count of flips.

For a record (x, y) with C categorical columns that hold more than one value,
and R random orders (``orders``; drawn per record):

1. order r is a uniformly random permutation π_r of the C columns and, for each
   column j, a replacement value v_rj ≠ x_j drawn in proportion to the other
   values' frequencies (:meth:`FeatureSpace.flip` with p = 1);
2. copy s of order r (s = 1…C) is x with columns π_r(1)…π_r(s) replaced by
   their v_r· values (nested: copy s+1 is copy s with one more column replaced);
3. the target is asked about copies s = 1, 2, … *until its label differs from
   y* (early stopping), so order r costs d_r ≤ C queries, where

       d_r = min{ s : h(copy_s) ≠ y },   or C + 1 when no copy changes the label;

4. the signal is the mean over orders,  flip_distance(x, y) = (1/R) Σ_r d_r
   ∈ [1, C + 1], members higher; records the target already misclassifies
   (h(x) ≠ y, the audit's plain query) get 0 and spend no query.

A record keeping its label in *every* copy of every order reaches the top value
C + 1; with R orders that needs R·C kept labels (and R full replacements), so far
fewer records tie there than at the top of the augmentation share
(BENCHMARKS.md, "label-only attacks at low FPR"). R is the budget divided by C:
``orders = queries_per_record // C`` (refused when that is 0), so no record is
ever asked more than ``queries_per_record`` queries (exactly R·C when the label
never changes). Numeric columns keep their values (the demo's MLP memorises its
members on exact numeric values; moving them points the wrong way, see
:mod:`~privaudit.query_signals.augmentation`).

The draws are made by :func:`flip_plan` and the copies by :func:`prefix_codes`,
so the *same* copies can be replayed on reference models
(:func:`flip_distances_of`), which is what the calibrated attack does
(:class:`~privaudit.attacks.label_flip.LabelOnlyFlipCalibratedAttack`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from privaudit.exceptions import CapabilityError
from privaudit.query_signals.base import QUERY_SIGNALS, QuerySignal, ReplayCopies, check_whole_number

__all__ = ["FlipPlan", "flip_plan", "prefix_codes", "flip_distance", "flip_distances_of", "check_flip_params", "flip_applies",
           "flippable_columns", "flip_orders", "flip_replay"]


def check_flip_params(*, queries_per_record=200) -> dict:
    """Validated ``{queries_per_record}`` (≥ 1; checked against the number of flippable columns by :func:`flip_applies`)."""
    return {"queries_per_record": check_whole_number("queries_per_record", queries_per_record, 1)}


def flippable_columns(space) -> np.ndarray:
    """Indices (into ``space.categorical``) of the categorical columns with more than one observed value."""
    return np.array([j for j, f in enumerate(space.frequencies) if f.size > 1], dtype=np.intp)


def flip_orders(space, queries_per_record: int) -> int:
    """Orders per record, ``queries_per_record // C``; CapabilityError when there is nothing to flip or the budget covers no order."""
    c = flippable_columns(space).size
    if c == 0:
        raise CapabilityError("the flip-distance signal replaces categorical values, but the data has no categorical column with more than one value; "
                              "use label_only_boundary (numeric columns)")
    if queries_per_record < c:
        raise CapabilityError(f"queries_per_record = {queries_per_record} is too small for the flip distance: one order flips all {c} categorical "
                              f"columns, one query each; give at least {c} (each further {c} adds an order)")
    return queries_per_record // c


def flip_applies(space, *, queries_per_record: int) -> None:
    """Raise :class:`CapabilityError` when nothing can be flipped or the budget covers no full order."""
    flip_orders(space, queries_per_record)


@dataclass(frozen=True)
class FlipPlan:
    """The random orders and replacement values of every record.

    Attributes
    ----------
    rank : ndarray of int, shape (n, R, c)
        Position (0-based) at which each categorical column is replaced in each order;
        ``c`` (never) for columns with a single value.
    replacement : ndarray of int, shape (n, R, c)
        The replacement code of each column in each order (equal to the record's own code where it never flips).
    flips : int
        C, the number of flippable columns (copies per order).
    """

    rank: np.ndarray
    replacement: np.ndarray
    flips: int

    @property
    def orders(self) -> int:
        return int(self.rank.shape[1])


def flip_plan(space, codes: np.ndarray, rng: np.random.Generator, orders: int) -> FlipPlan:
    """Draw ``orders`` random column orders and replacement values per record (rows of ``codes``, shape (n, c)).

    The draws depend only on ``rng``, the codes and the space, never on any answer, so the
    same plan can be asked of the target (with early stopping) and of reference models (in full).
    """
    n, c = codes.shape
    columns = flippable_columns(space)
    rank = np.full((n, orders, c), c, dtype=np.intp)
    keys = rng.random((n, orders, columns.size))
    rank[:, :, columns] = np.argsort(np.argsort(keys, axis=2), axis=2)
    replacement = space.flip(np.repeat(codes, orders, axis=0), 1.0, rng).reshape(n, orders, c)
    return FlipPlan(rank, replacement, int(columns.size))


def prefix_codes(codes: np.ndarray, plan: FlipPlan, rows: np.ndarray, order: np.ndarray, step: np.ndarray) -> np.ndarray:
    """Codes of copy ``step`` (1…C: that many columns replaced) of ``order`` for records ``rows``; shape (N, c)."""
    flipped = plan.rank[rows, order] < np.asarray(step)[:, None]
    return np.where(flipped, plan.replacement[rows, order], codes[rows])


def flip_distance(oracle, correct: np.ndarray, rng: np.random.Generator, *, queries_per_record: int) -> np.ndarray:
    """Mean number of categorical flips before the label changes, shape (n,), in {0} ∪ [1, C + 1]. Members: higher.

    Parameters
    ----------
    oracle : LabelOracle
        Over the n records; spends at most ``(queries_per_record // C) · C`` queries on each
        (early stopping: an order ends at its first changed label).
    correct : bool array (n,)
        Whether the target labels each unperturbed record correctly; misclassified records get 0 and no query.
    rng : numpy Generator
        Draws the plan (:func:`flip_plan`).
    """
    space = oracle.space
    orders = flip_orders(space, queries_per_record)
    correct = np.asarray(correct, dtype=bool)
    plan = flip_plan(space, oracle.codes, rng, orders)
    c = plan.flips
    distance = np.full((oracle.labels.size, orders), c + 1.0)
    rows, order = np.nonzero(np.broadcast_to(correct[:, None], distance.shape))
    for step in range(1, c + 1):
        if rows.size == 0:
            break
        copies = prefix_codes(oracle.codes, plan, rows, order, np.full(rows.size, step))
        changed = oracle.ask(rows, oracle.numeric[rows], copies) != oracle.labels[rows]
        distance[rows[changed], order[changed]] = step
        rows, order = rows[~changed], order[~changed]
    return np.where(correct, distance.mean(axis=1), 0.0)


def flip_distances_of(hits: np.ndarray, correct: np.ndarray) -> np.ndarray:
    """Flip distances from the answers to *every* copy, for models asked without early stopping.

    Parameters
    ----------
    hits : bool array (n, R, C, ...)
        Whether a model kept the record's label on copy s (axis 2, s = 1…C) of order r; trailing
        axes (e.g. reference models) are carried through.
    correct : bool array (n, ...)
        Whether that model labels the unperturbed record correctly (0 otherwise).

    Returns
    -------
    ndarray (n, ...)
        The mean over orders of d_r = the first s whose label changed (C + 1 if none), as
        :func:`flip_distance` computes it for the target.
    """
    hits = np.asarray(hits, dtype=bool)
    c = hits.shape[2]
    changed = ~hits
    first = np.where(changed.any(axis=2), changed.argmax(axis=2) + 1, c + 1).astype(np.float64)
    return np.where(np.asarray(correct, dtype=bool), first.mean(axis=1), 0.0)


def flip_replay(space, numeric: np.ndarray, codes: np.ndarray, rng: np.random.Generator, orders: int, *, queries_per_record: int) -> ReplayCopies:
    """The target's copies of its first ``orders`` orders (same ``rng``, so the same plan), every step asked, plus each record itself.

    Rows: the n records first (a model that misclassifies a record scores 0 on it, as the target
    does), then record by record ``orders × C`` copies, step by step within each order.
    ``values(hits)`` is :func:`flip_distances_of` over those orders, shape (n, n_models).
    """
    total = flip_orders(space, queries_per_record)
    plan = flip_plan(space, codes, rng, total)
    used = min(int(orders), total)
    n, c = codes.shape[0], plan.flips
    rows = np.repeat(np.arange(n), used * c)
    order = np.tile(np.repeat(np.arange(used), c), n)
    step = np.tile(np.arange(1, c + 1), n * used)
    owner = np.concatenate([np.arange(n), rows])
    copies = np.concatenate([codes, prefix_codes(codes, plan, rows, order, step)])

    def values(hits: np.ndarray) -> np.ndarray:
        hits = np.asarray(hits, dtype=bool)
        return flip_distances_of(hits[n:].reshape(n, used, c, -1), hits[:n])

    return ReplayCopies(owner, numeric[owner], copies, values)


QUERY_SIGNALS.register("flip_distance")(
    QuerySignal("flip_distance", flip_distance, +1, check_flip_params, flip_applies,
                "mean number of categorical values replaced, in random orders, before the label changes (Choquette-Choo et al. 2021; Li & Zhang 2021)",
                budget=lambda queries_per_record=200, **_: int(queries_per_record), replay=flip_replay)
)
