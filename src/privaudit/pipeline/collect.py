"""Step 2 of every run: the ONE place that queries targets, driven by the attacks' declared needs.

:func:`check_needs` refuses what a target or the data cannot give before any
query is spent; :func:`collect` asks a tabular or image target for the signals, the
population signals, the signals on augmented copies (:mod:`privaudit.augmentations`,
shape (n, Q), under ``signal@<key>``; each distinct augmentation once, counted in the
ledger as ``augmentations:<key>``), the label-only query signals and the reference models'
signals that the attacks' :class:`~privaudit.attacks.needs.AttackNeeds` name
(``privaudit check`` passes all its parts — checked records, members, null,
fabricated profiles — as one record set, so they are scored in one pass);
:func:`collect_text` asks language models for the token log-probabilities
text attacks need, once per distinct query key. Every query is counted in a
:class:`~privaudit.query_signals.QueryLedger`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from privaudit.augmentations import augmented_signal_key
from privaudit.exceptions import CapabilityError, ConfigError, DataError
from privaudit.progress import reference_training_progress
from privaudit.query_signals import QueryLedger, check_query_requests, compute_query_signals
from privaudit.signals import SIGNALS, compute_signals
from privaudit.text.token_scores import score_texts

__all__ = ["Collected", "check_needs", "collect", "collect_text", "api_call_counts", "split_parts", "missing_population_error", "augmented_needs",
           "augmented_signals"]


@dataclass
class Collected:
    """What one target answered for a run.

    ``signals[name]`` has shape ``(n_records,)`` over the queried records
    (label-only query signals under their request key); ``population_signals``
    the same over the population records, or None; ``reference`` the
    reference models' :class:`~privaudit.attacks.reference.ReferenceSignals`,
    or None; ``reference_info`` what the reference engine did (n_models, mode,
    backend, trained, reused, train_size, store); ``queries`` the
    :class:`~privaudit.query_signals.QueryCount` of records asked about.
    For a text audit, ``texts`` are the audited texts, ``answers`` the token
    log-probabilities by query key and ``text_stats`` their scoring statistics.
    ``features`` / ``population_features`` are the queried and population
    records' feature tables when an attack's needs ask for them (QMIA), else None.
    """

    signals: dict
    population_signals: dict | None = None
    reference: object = None
    reference_info: dict | None = None
    queries: object = None
    texts: list | None = None
    answers: dict | None = None
    text_stats: dict | None = None
    features: object = None
    population_features: object = None


def check_needs(target, attacks: Sequence, *, has_population: bool, plan) -> None:
    """Refuse attacks the data or the target cannot serve (one-line errors, before any query)."""
    for attack in attacks:
        needs = attack.needs
        if needs.population and not has_population:
            raise missing_population_error(attack)
        for name in needs.signals:
            if target.output_kind == "labels" and SIGNALS.get(name).needs != "labels":
                raise CapabilityError(f"attack '{attack.display_name}' needs probabilities, but target '{target.name}' gives only labels; use the 'correctness' attack "
                                      "or the label-only attacks label_only_augmentation and label_only_boundary")
    reference_attacks = [a.display_name for a in attacks if a.needs.reference]
    if reference_attacks and plan is None:
        raise CapabilityError(f"attack(s) {', '.join(reference_attacks)} need reference models, but target '{target.name}' has none configured; "
                              "add a 'reference' block to the target (models, and for torch targets a training recipe)")


def missing_population_error(attack) -> DataError:
    """The one error for an attack that must be fitted on population records when the data has none."""
    return DataError(f"attack '{attack.display_name}' needs population records (known non-members the attacker may use); "
                     "add them to the membership column or a population file")


def collect(target, data, records, attacks: Sequence, *, plan=None, seed: int = 0, progress: Callable[[str], None] | None = None,
            always: Sequence[str] = ("correctness",), reference_query=None, reference_design=None) -> Collected:
    """Query ``target`` for everything ``attacks`` need on ``records`` (a :class:`~privaudit.data.RecordSet`).

    ``data`` (:class:`~privaudit.data.AuditData`) supplies the population
    records and the reference models' training pool; ``plan`` the
    :class:`~privaudit.reference.plan.ReferencePlan` for reference attacks;
    ``always`` signals computed whatever the attacks need (the audit's
    accuracy summary reads ``correctness``); ``reference_query`` scores these
    records with the reference models instead of the audited ones
    (``privaudit check``); ``reference_design`` a ``(pool, keep)`` the reference
    models train on instead of the plan's (``privaudit check --mode online``).
    """
    say = progress or (lambda message: None)
    needs = [a.needs for a in attacks]
    requests = {q.key: q for n in needs for q in n.query_signals}
    if requests:
        check_query_requests(target, records, list(requests.values()))  # before any query is spent
    augmented = augmented_needs(needs)
    for attack in attacks:  # refuse tabular records before any query is spent
        for augmentations in attack.needs.augmentations:
            try:
                augmentations.check(records)
            except (CapabilityError, ConfigError) as exc:
                raise type(exc)(f"attack '{attack.display_name}': {exc}") from None
    plain = [n for n in needs if not n.augmentations]
    names = sorted({s for n in plain for s in n.signals} | set(always) | ({"correctness"} if requests else set()))
    ledger = QueryLedger()
    signals = compute_signals(target, records, names, progress=progress, description=f"querying {target.name}")  # per answered batch
    ledger.add_outputs(len(records))
    population_signals = None
    wants_reference = any(n.reference for n in needs)
    if data.population.size and any(n.any_population for n in needs):  # only attacks that read the target on z ask it about them
        population = data.records.subset(data.population)
        population_signals = compute_signals(target, population, names, progress=progress, description=f"querying {target.name} on population records")
        ledger.add_outputs(len(population))
    for augmentations, (aug_names, on_population) in augmented.items():
        signals.update(augmented_signals(target, records, augmentations, aug_names, progress))
        per_record = [np.full(len(records), augmentations.n_queries)]
        if on_population and population_signals is not None:
            population_signals.update(augmented_signals(target, population, augmentations, aug_names, progress, where=" on population records"))
            per_record.append(np.full(len(population), augmentations.n_queries))
        ledger.add_queries(f"augmentations:{augmentations.key}", np.concatenate(per_record), len(per_record))
    if requests:
        values, spent = compute_query_signals(target, records, list(requests.values()), correct=signals["correctness"] > 0, seed=seed, progress=say)
        signals.update(values)
        for key, spend in spent.items():
            ledger.add_queries(key, spend.queries, spend.calls)
    collected = Collected(signals, population_signals, queries=ledger.count())
    if any(n.features for n in needs):  # attacks that regress on the records themselves (QMIA)
        collected.features = records.features
        collected.population_features = data.records.features.iloc[data.population] if data.population.size else None
    if wants_reference:
        collected.reference, collected.reference_info = _reference_signals(target, data, needs, plan, population_signals, seed, say, reference_query,
                                                                            reference_design)
        replays = [r for n in needs if n.reference for r in n.reference_query_signals]
        if replays:  # the target's perturbed copies asked of the reference models too (label-only calibration)
            from privaudit.pipeline.reference_queries import replay_on_reference

            collected.reference, rows = replay_on_reference(plan, data, records, collected.reference, replays, seed=seed, design=reference_design, say=say)
            collected.reference_info["replayed_rows"] = rows
    return collected


def augmented_needs(needs: Sequence) -> dict:
    """``{Augmentations: (signal names, on population records)}`` over the attacks' needs: each distinct augmentation once."""
    merged: dict = {}
    for need in needs:
        for augmentations in need.augmentations:
            names, population = merged.get(augmentations, (set(), False))
            merged[augmentations] = (names | set(need.signals), population or need.any_population)
    return {augmentations: (sorted(names), population) for augmentations, (names, population) in merged.items()}


def augmented_signals(target, records, augmentations, names: Sequence[str], progress=None, *, where: str = "") -> dict:
    """Signals ``names`` on the Q augmented copies of ``records``, each of shape (n, Q), under ``name@<key>``."""
    copies = augmentations.apply(records)
    values = compute_signals(target, copies, list(names), progress=progress,
                             description=f"querying {target.name}{where} on {augmentations.n_queries} augmented copies ({augmentations.key})")
    return {augmented_signal_key(name, augmentations): values[name].reshape(len(records), augmentations.n_queries) for name in names}


def _reference_signals(target, data, needs, plan, population_signals, seed, say, query, design=None):
    """Train (or reuse) the plan's reference models and take their signals; returns ``(ReferenceSignals, info)``."""
    from privaudit.reference.plan import reference_signals

    names = sorted({s for n in needs if n.reference and not n.augmentations for s in n.signals})
    augmented = [(a, aug_names, population) for a, (aug_names, population) in augmented_needs([n for n in needs if n.reference]).items()]
    keys = names + [augmented_signal_key(name, a) for a, aug_names, population in augmented if population for name in aug_names]
    say(f"{target.name}: {plan.n_models} reference models ({plan.choice or plan.mode}; store {plan.store})")
    signals, engine, backend = reference_signals(
        plan, data, names, target_population_signals={k: population_signals[k] for k in keys} if population_signals else None,
        seed=seed, progress=reference_training_progress(say, target.name), query=query, design=design, augmented=augmented,
    )
    info = {"n_models": plan.n_models, "mode": plan.mode, "backend": backend, "trained": engine.trained, "reused": engine.reused,
            "train_size": plan.train_size, "store": str(plan.store), **({"choice": plan.choice} if plan.choice else {})}
    return signals, info


def collect_text(target, texts: Sequence[str], attacks: Sequence, *, reference=None,
                 progress: Callable[[str], None] | None = None) -> Collected:
    """Ask the language models once per distinct text query of ``attacks``; returns the answers and statistics by query key.

    ``target`` and ``reference`` have ``name`` and ``token_log_probs(texts, *, vocab_stats=False)``
    (:class:`privaudit.text.canary_audit.TokenScorer`). Queries with the same key are
    merged; the merged query computes the vocabulary statistics if any of them
    needs them. ``answers[key]`` is a :class:`~privaudit.text.token_scores.TokenLogProbs`
    over ``query.texts(texts)``; ``text_stats[key]`` holds texts, scored tokens,
    seconds and (from the model) tokens and padding fraction.
    """
    merged: dict = {}
    for attack in attacks:
        for query in attack.needs.text_queries:
            kept = merged.get(query.key)
            merged[query.key] = query if kept is None or query.vocab_stats else kept
    answers, stats = {}, {}
    for key, query in merged.items():
        model = target if query.model == "target" else reference
        if model is None:
            raise CapabilityError(f"query '{key}' needs a reference model; give the audit one (reference=...), or leave out the 'reference' attack")
        query_texts = query.texts(texts)
        description = f"scoring {len(query_texts):,} texts with {model.name} ({key}{', vocabulary statistics' if query.vocab_stats else ''})"
        started = time.perf_counter()
        answers[key] = score_texts(model, query_texts, vocab_stats=query.vocab_stats, progress=progress, description=description)  # per batch
        stats[key] = {"texts": len(query_texts), "scored_tokens": answers[key].n_tokens, "seconds": time.perf_counter() - started,
                      **{k: v for k, v in (getattr(model, "last_stats", None) or {}).items() if k in ("tokens", "padding_fraction")}}
    return Collected({}, texts=[str(t) for t in texts], answers=answers, text_stats=stats)


def api_call_counts(target) -> dict | None:
    """``target.query_stats()`` of a target that counts its queries (looking through wrappers such as output defences)."""
    while target is not None:
        stats = getattr(target, "query_stats", None)
        if callable(stats):
            return stats()
        target = getattr(target, "target", None)
    return None


def split_parts(scores: np.ndarray, sizes: Sequence[int]) -> list[np.ndarray]:
    """Cut one pass's ``scores`` back into consecutive parts of ``sizes`` (``privaudit check``'s checked/members/null parts)."""
    return np.split(np.asarray(scores), np.cumsum(sizes)[:-1])
