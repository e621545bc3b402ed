"""Ask the reference models about the target's perturbed copies (label-only attacks calibrated per record).

A label-only attack such as ``label_only_flip_calibrated`` compares the
target's robustness on a record with the reference models' robustness on the
*same* copies of the same record (:class:`~privaudit.query_signals.ReplayRequest`).
The reference models are the attacker's own, trained like the target on
population records, so they answer every copy, without early stopping and
outside the target's query budget; only the target's queries are counted in
the audit's :class:`~privaudit.query_signals.QueryCount`. The rows asked here are
reported in the reference info (``replayed_rows``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Sequence

import numpy as np

from privaudit.exceptions import CapabilityError
from privaudit.query_signals import QUERY_SIGNALS, FeatureSpace, ReplayRequest, request_rng

__all__ = ["replay_on_reference", "REPLAY_CHUNK_ROWS"]

#: Copies per engine call: bounds the memory of one encoded batch (each call also scores the population records once).
REPLAY_CHUNK_ROWS = 200_000


def replay_on_reference(plan, data, records, reference, replays: Sequence[ReplayRequest], *, seed: int, design=None, say=None):
    """Add each replayed query signal's reference values to ``reference``; returns ``(ReferenceSignals, rows asked)``.

    Parameters
    ----------
    plan : ReferencePlan
    data : AuditData
    records : RecordSet
        The records the target's query signals were computed on (rows of ``reference``).
    reference : ReferenceSignals
        The reference models' signals on ``records``; a new one is returned with
        ``signals[replay.key]`` of shape ``(n_records, n_models)`` added.
    replays : sequence of ReplayRequest
    seed : int
        The audit seed (with each request's key, it fixes the copies, as for the target).
    """
    from privaudit.data import RecordSet
    from privaudit.reference.plan import reference_signals

    say = say or (lambda message: None)
    space = FeatureSpace.fit(records.features)
    numeric, codes = space.encode(records.features)
    added, rows_asked = {}, 0
    for replay in {r.key: r for r in replays}.values():
        signal = QUERY_SIGNALS.get(replay.request.name)
        if signal.replay is None:
            raise CapabilityError(f"query signal '{replay.request.name}' cannot be asked of reference models (it has no replay)")
        copies = signal.replay(space, numeric, codes, request_rng(seed, replay.request.key), replay.orders, **dict(replay.request.params))
        hits = np.empty((copies.owner.size, plan.n_models), dtype=bool)
        say(f"reference models: {copies.owner.size:,} perturbed copies for {replay.key}")
        for start in range(0, copies.owner.size, REPLAY_CHUNK_ROWS):
            part = slice(start, start + REPLAY_CHUNK_ROWS)
            owner = copies.owner[part]
            query = RecordSet(records.ids[owner], space.frame(copies.numeric[part], copies.codes[part]), records.labels[owner],
                              records.classes, records.image_shape)
            signals, _, _ = reference_signals(plan, data, ["correctness"], target_population_signals=None, seed=seed, query=query, design=design)
            hits[part] = np.asarray(signals.signals["correctness"]) > 0
        added[replay.key] = copies.values(hits)
        rows_asked += int(copies.owner.size)
    return replace(reference, signals={**reference.signals, **added}), rows_asked
