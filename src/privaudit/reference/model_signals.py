"""Reference models' outputs → the :class:`~privaudit.attacks.reference.ReferenceSignals` attacks read.

:func:`signals_of_models` is the one place where reference models' outputs (trained by the engine, or read
from a file by :mod:`privaudit.reference.precomputed`) become per-model signals and IN/OUT masks;
:func:`precomputed_reference_signals` feeds it a file's outputs.
"""

from __future__ import annotations

import numpy as np

__all__ = ["signals_of_models", "precomputed_reference_signals", "reference_query_records"]


def precomputed_reference_signals(plan, data, names: list[str], target_population_signals, *, query=None, design=None, augmented=()):
    """:func:`~privaudit.reference.plan.reference_signals` for models trained elsewhere: outputs and IN/OUT read from ``plan.precomputed``.

    A record is IN model k exactly when ``keep[k]`` says so for its id, as :func:`privaudit.reference.design.reference_design`'s
    mask says for a trained model; the outputs go through :func:`signals_of_models`, the code trained models' outputs go through.
    Returns ``(ReferenceSignals, ReferenceOutputs with no outputs kept, "precomputed")``.
    """
    from privaudit.exceptions import CapabilityError
    from privaudit.reference.engine import ReferenceOutputs

    refs = plan.precomputed
    if augmented or design is not None:
        what = "augmented copies of the records" if augmented else "an online check's own design"
        raise CapabilityError(f"{plan.field}.outputs: precomputed reference outputs cannot answer {what}; "
                              "use reference models privaudit trains (reference.estimator or reference.training) for that attack")
    query_records, n_audited = reference_query_records(data, query)
    what = "audited and population records" if query is None else ("records asked about (checked records, or perturbed copies a label-only "
                                                                    "attack asks reference models about, which outputs from a file cannot answer)")
    rows = refs.rows_for(query_records.ids, what=what)
    read = refs.model_reader()  # model k's (n, C) outputs, read from the file one model at a time
    in_mask = refs.keep[:, rows].T
    signals = signals_of_models(plan, data, names, target_population_signals, query_records, n_audited, len(query_records),
                                 lambda k: read(k)[rows], refs.output_kind, in_mask, refs.model_keys, ())
    outputs = ReferenceOutputs(np.empty((refs.n_models, 0, 0), dtype=np.float32), refs.output_kind, refs.model_keys, trained=0, reused=0)
    return signals, outputs, "precomputed"


def reference_query_records(data, query=None):
    """``(records, n_audited)`` the reference models are asked about: the audited records (or ``query``, a
    check's records) followed by the population records."""
    from privaudit.data import concat_records

    if query is None:
        return data.records.subset(np.concatenate([data.audited, data.population])), data.audited.size
    return concat_records([query, data.records.subset(data.population)]), len(query)


def signals_of_models(plan, data, names, target_population_signals, query_records, n_audited, n_plain, model_outputs, output_kind,
                       in_mask, model_keys, segments):
    """Every model's signals ``names`` on the query records (``model_outputs(k)`` → (n_query, C)), as ReferenceSignals."""
    from privaudit.attacks.reference import ReferenceSignals
    from privaudit.signals import signals_from_outputs

    labels = query_records.labels
    n_models = len(model_keys)
    stacked = {name: np.empty((len(query_records), n_models)) for name in names}
    for k in range(n_models):
        outputs_k, kind = model_outputs(k), output_kind
        if plan.output_defence is not None:
            outputs_k, kind = plan.output_defence.apply(outputs_k, kind)
        per_model = signals_from_outputs(outputs_k, kind, labels, list(names), source=f"reference model {k}")
        for name in names:
            stacked[name][:, k] = per_model[name]
        del outputs_k, per_model
    has_population = data.population.size > 0  # the models' own population signals; the target's only where it was asked (RMIA's z)
    audited_signals = {name: values[:n_audited] for name, values in stacked.items()}
    population_signals = {name: values[n_audited:n_plain] for name, values in stacked.items()}
    for key, start, n_records, n_queries, population in segments:
        for name in names:
            values = stacked[name][start:start + n_records * n_queries].reshape(n_records, n_queries, -1).transpose(0, 2, 1)  # (n, K, Q)
            (population_signals if population else audited_signals)[f"{name}@{key}"] = values
    signals = ReferenceSignals(
        signals=audited_signals,
        in_mask=in_mask[:n_audited],
        population_target=target_population_signals if has_population and target_population_signals is not None else None,
        population_signals=population_signals if has_population else None,
        population_in_mask=in_mask[n_audited:n_plain] if has_population else None,
        population_labels=labels[n_audited:n_plain] if has_population else None,
        model_ids=model_keys,
    )
    return signals
