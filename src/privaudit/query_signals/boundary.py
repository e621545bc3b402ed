"""Boundary distance: how far a record can move before the target changes its label, within a query budget.

Choquette-Choo, Tramèr, Carlini & Papernot (2021), "Label-Only Membership
Inference Attacks" (ICML), boundary-distance attack: the score is the L2
distance from the record to the target's decision boundary,

    dist_h(x, y) = min_{x'} ‖x' − x‖₂   subject to   h(x') ≠ y ,

set to 0 when h(x) ≠ y already; members lie farther from the boundary. With
label-only access the paper estimates it with a decision-based adversarial
attack (HopSkipJump, Chen et al. 2020). privaudit uses a simpler search
with a fixed per-record budget Q (``queries_per_record``), in standardised
units over the numeric columns (categorical columns are held fixed; see
:class:`~privaudit.query_signals.space.FeatureSpace`):

1. **Lines.** D (``directions``) random unit directions u_j, drawn as blocks of
   random orthonormal bases of the numeric subspace. For each line the target
   is asked at x + R·u_j and x − R·u_j (R = ``max_radius``): 2 queries. On a side
   whose label changed, ``search_steps`` = S bisection queries narrow the
   crossing to a bracket [lo_j, hi_j] of width R / 2^S (lo correct, hi changed).
   A line with no change within R costs its 2 queries only.
2. **Normal.** The bracket midpoints b_j are points of the boundary. The
   hyperplane {z : w·(z − x) = 1} through them is fitted by least squares
   (minimum-norm when there are fewer points than dimensions: then w is the
   projection of the true normal onto the span of the lines, for a linear
   boundary), and u* = w / ‖w‖ is the estimated direction of the nearest boundary point.
3. **Refinement.** Every query left, Q − 2D − S·(lines with a change), capped at
   ``MAX_REFINEMENT_STEPS``, bisects along u* between 0 and the best distance found so far.

The signal is the smallest distance from x of any queried point whose label
changed, measured on the values actually sent (after clipping and rounding).
It is an upper bound on dist_h within the searched region and equals it,
up to the refinement's bracket, for a linear boundary once the lines span
the numeric subspace (D ≥ number of numeric columns). Records with no change
found get R (the search's radius: "at least this far"); misclassified records
get 0 and spend no query. A correctly classified record with at least one
line that changed spends exactly Q queries (unless the refinement cap binds);
one without spends 2D.
"""

from __future__ import annotations

import numpy as np

from privaudit.exceptions import CapabilityError, ConfigError
from privaudit.query_signals.base import QUERY_SIGNALS, QuerySignal, check_number, check_whole_number

__all__ = ["boundary_distance", "check_boundary_params", "boundary_applies", "random_directions", "MAX_REFINEMENT_STEPS"]

#: Bisection steps beyond this shrink the bracket below R·2⁻³² and are not spent.
MAX_REFINEMENT_STEPS = 32


def check_boundary_params(*, queries_per_record=64, max_radius=4.0, directions=6, search_steps=6) -> dict:
    """Validated ``{queries_per_record, max_radius, directions, search_steps}``; Q must cover D(2 + S) + 1 queries."""
    checked = {
        "queries_per_record": check_whole_number("queries_per_record", queries_per_record, 1),
        "max_radius": check_number("max_radius (in standard deviations)", max_radius, low=0.0, low_open=True),
        "directions": check_whole_number("directions", directions, 1),
        "search_steps": check_whole_number("search_steps", search_steps, 1),
    }
    needed = checked["directions"] * (2 + checked["search_steps"]) + 1
    if checked["queries_per_record"] < needed:
        raise ConfigError(
            f"queries_per_record = {checked['queries_per_record']} is too small for directions = {checked['directions']} and "
            f"search_steps = {checked['search_steps']}: the lines alone take up to directions × (2 + search_steps) = {needed - 1} "
            f"queries and the refinement at least 1, so give at least {needed} (or fewer directions / search_steps)"
        )
    return checked


def boundary_applies(space, **params) -> None:
    """Raise :class:`CapabilityError` when no numeric column can move (the search holds categorical columns fixed)."""
    if not space.movable.any():
        raise CapabilityError("the boundary-distance search moves numeric columns, but the data has no numeric feature column that varies; "
                              "use label_only_augmentation (it also flips categorical values)")


def random_directions(rng: np.random.Generator, n: int, count: int, dimension: int) -> np.ndarray:
    """``count`` unit vectors per record, shape (n, count, dimension): consecutive blocks of Haar-random orthonormal bases."""
    blocks = -(-count // dimension)
    gaussian = rng.standard_normal((n, blocks, dimension, dimension))
    q, r = np.linalg.qr(gaussian)
    q = q * np.sign(np.diagonal(r, axis1=-2, axis2=-1))[..., None, :]  # sign fix: uniform (Haar) rotations
    return np.swapaxes(q, -1, -2).reshape(n, blocks * dimension, dimension)[:, :count]


def boundary_distance(oracle, correct: np.ndarray, rng: np.random.Generator, *, queries_per_record: int, max_radius: float,
                      directions: int, search_steps: int) -> np.ndarray:
    """Estimated L2 distance (standardised units) to the decision boundary, shape (n,), in [0, max_radius]. Members: higher.

    Parameters
    ----------
    oracle : LabelOracle
        Over the n records; spends at most ``queries_per_record`` on each (see the module docstring).
    correct : bool array (n,)
        Whether the target labels each unperturbed record correctly; misclassified records get 0.
    rng : numpy Generator
        Draws the directions.
    """
    space = oracle.space
    boundary_applies(space)
    movable = space.movable
    m = int(movable.sum())
    radius, budget, count, steps = float(max_radius), int(queries_per_record), int(directions), int(search_steps)
    distance = np.zeros(oracle.labels.size)
    index = np.flatnonzero(np.asarray(correct, dtype=bool))
    if index.size == 0:
        return distance
    base = oracle.numeric[index]
    best = np.full(index.size, radius)

    def probe(rows: np.ndarray, step: np.ndarray) -> np.ndarray:
        """Ask about base[rows] moved by ``step`` (standardised, numeric subspace); record any label change."""
        full = np.zeros((rows.size, base.shape[1]))
        full[:, movable] = step
        moved = space.move(base[rows], full)
        owner = index[rows]
        changed = oracle.ask(owner, moved, oracle.codes[owner]) != oracle.labels[owner]
        np.minimum.at(best, rows[changed], space.distance(moved[changed], base[rows[changed]]))
        return changed

    # 1. lines: ±R probes, then bisection on the side that changed
    lines = random_directions(rng, index.size, count, m)  # (na, D, m)
    rows = np.repeat(np.arange(index.size), 2 * count)
    signs = np.tile([1.0, -1.0], index.size * count)
    changed = probe(rows, radius * signs[:, None] * np.repeat(lines.reshape(-1, m), 2, axis=0)).reshape(index.size, count, 2)
    side = np.where(changed[..., 0], 1.0, np.where(changed[..., 1], -1.0, 0.0))
    found = side != 0
    lo, hi = np.zeros(side.shape), np.full(side.shape, radius)
    r_idx, d_idx = np.nonzero(found)
    oriented = side[r_idx, d_idx, None] * lines[r_idx, d_idx]
    for _ in range(steps):
        mid = (lo[r_idx, d_idx] + hi[r_idx, d_idx]) / 2
        hit = probe(r_idx, mid[:, None] * oriented)
        hi[r_idx, d_idx] = np.where(hit, mid, hi[r_idx, d_idx])
        lo[r_idx, d_idx] = np.where(hit, lo[r_idx, d_idx], mid)

    # 2. normal of the hyperplane through the boundary points (bracket midpoints, as sent: clipped and rounded)
    points = np.zeros(lines.shape)  # (na, D, m); rows of lines without a change stay 0 and do not constrain the fit
    middle = np.zeros((r_idx.size, base.shape[1]))
    middle[:, movable] = ((lo[r_idx, d_idx] + hi[r_idx, d_idx]) / 2)[:, None] * oriented
    sent = (space.move(base[r_idx], middle) - base[r_idx]) / np.where(space.scale > 0, space.scale, 1.0)
    points[r_idx, d_idx] = np.nan_to_num(sent[:, movable])  # a missing value never moves: 0 along that column
    w = (np.linalg.pinv(points) @ found.astype(np.float64)[..., None])[..., 0]  # (na, m)
    norm = np.linalg.norm(w, axis=1)
    remaining = np.where(found.any(axis=1) & (norm > 0), budget - 2 * count - steps * found.sum(axis=1), 0)
    remaining = np.minimum(remaining, MAX_REFINEMENT_STEPS)
    normal = w / np.where(norm > 0, norm, 1.0)[:, None]

    # 3. refinement: bisection along the normal between 0 and the best distance so far
    lo, hi = np.zeros(index.size), best.copy()
    for t in range(int(remaining.max(initial=0))):
        active = np.flatnonzero(remaining > t)
        mid = (lo[active] + hi[active]) / 2
        hit = probe(active, mid[:, None] * normal[active])
        hi[active] = np.where(hit, mid, hi[active])
        lo[active] = np.where(hit, lo[active], mid)

    distance[index] = np.minimum(best, radius)
    return distance


QUERY_SIGNALS.register("boundary_distance")(
    QuerySignal("boundary_distance", boundary_distance, +1, check_boundary_params, boundary_applies,
                "estimated L2 distance to the decision boundary within a query budget (Choquette-Choo et al. 2021)",
                budget=lambda queries_per_record=64, **_: int(queries_per_record))
)
