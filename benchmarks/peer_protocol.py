"""The peer benchmark's protocol, as pure numpy helpers (no ART, no torch): who trains on which records, who is scored on which.

``benchmarks/bench_peers.py`` uses these; ``tests/test_bench_peers.py`` checks them without the peers installed.

* :func:`attack_training_split` — a seeded split of the target's members and non-members into the labelled
  records an attack that needs labelled members may train on (ART's ``MembershipInferenceBlackBox``, and the
  calibration of ART's decision-boundary threshold) and the held-out **evaluation** records every row — privaudit's
  included — is scored on. The two parts are disjoint, so no tool is scored on records it trained on.
* :func:`subsample` — a seeded subsample of the evaluation records for expensive attacks (HopSkipJump); the
  rows reported on it include privaudit's, re-evaluated on the same records.
* :class:`QueryCounter` — rows a model was asked about, to report queries per record.
* :func:`positions_in` — where given record positions sit in an audit's audited order (to pick their scores).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PeerSplit:
    """Record positions (into the data's records) of each part; every array sorted, the four pairwise disjoint."""

    train_members: np.ndarray
    train_nonmembers: np.ndarray
    eval_members: np.ndarray
    eval_nonmembers: np.ndarray

    @property
    def evaluation(self) -> np.ndarray:
        """Evaluation positions, members first."""
        return np.concatenate([self.eval_members, self.eval_nonmembers])

    @property
    def evaluation_is_member(self) -> np.ndarray:
        return np.concatenate([np.ones(self.eval_members.size, bool), np.zeros(self.eval_nonmembers.size, bool)])


def attack_training_split(members, nonmembers, n_train_each: int, seed: int) -> PeerSplit:
    """Draw ``n_train_each`` members and ``n_train_each`` non-members (seeded) as labelled attack-training records.

    Parameters
    ----------
    members, nonmembers : int arrays
        Positions of the target's members and non-members (disjoint).
    n_train_each : int
        Labelled records of each kind; must leave at least one of each for evaluation.
    seed : int

    Returns
    -------
    PeerSplit
        The rest of the members and non-members are the evaluation records.
    """
    members, nonmembers = np.asarray(members), np.asarray(nonmembers)
    if np.intersect1d(members, nonmembers).size:
        raise ValueError("members and non-members overlap")
    if not 0 < n_train_each < min(members.size, nonmembers.size):
        raise ValueError(f"n_train_each must be in [1, {min(members.size, nonmembers.size) - 1}], got {n_train_each}")
    rng = np.random.default_rng([seed, 17])
    train_m = np.sort(rng.choice(members, n_train_each, replace=False))
    train_n = np.sort(rng.choice(nonmembers, n_train_each, replace=False))
    return PeerSplit(train_m, train_n, np.setdiff1d(members, train_m), np.setdiff1d(nonmembers, train_n))


def subsample(members, nonmembers, n_each: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded sample of ``n_each`` of each (all of them where fewer), sorted."""
    rng = np.random.default_rng([seed, 18])
    members, nonmembers = np.asarray(members), np.asarray(nonmembers)
    pick = lambda a: np.sort(rng.choice(a, min(n_each, a.size), replace=False))  # noqa: E731
    return pick(members), pick(nonmembers)


def positions_in(order, positions) -> np.ndarray:
    """Indices ``i`` with ``order[i] == positions[j]`` for each j (every position must occur in ``order``)."""
    order, positions = np.asarray(order), np.asarray(positions)
    sorter = np.argsort(order, kind="stable")
    found = np.searchsorted(order, positions, sorter=sorter)
    found = np.clip(found, 0, order.size - 1)
    index = sorter[found]
    if order.size == 0 or not np.array_equal(order[index], positions):
        raise ValueError("some positions are not in the audited order")
    return index


class QueryCounter:
    """Counts the rows a model was asked about (``add(batch)`` once per predict call)."""

    def __init__(self) -> None:
        self.rows = 0
        self.calls = 0

    def add(self, batch) -> None:
        self.rows += len(batch)
        self.calls += 1

    def since(self, start_rows: int) -> int:
        """Rows asked since the count was ``start_rows``."""
        return self.rows - start_rows
