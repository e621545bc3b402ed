"""What an attack needs before it can score: the record every attack declares as ``attack.needs``.

The pipeline (:mod:`privaudit.pipeline`) reads only this record to decide what
to query and how to fit and score an attack — never ``getattr``/``hasattr``
probes on the attack. Each field is one kind of input:

* ``signals`` — target signals (:data:`privaudit.signals.SIGNALS` names) from one
  query per record, e.g. ``("loss",)``;
* ``population`` — ``fit`` must see those signals on population records
  (records known not to be in training), e.g. class-wise thresholds;
* ``reference`` — reference models' signals (a
  :class:`~privaudit.attacks.reference.ReferenceSignals`), trained in
  ``reference_mode`` ("online": with each audited record IN half the models,
  "offline": population records only);
* ``population_z`` — the target's and the reference models' signals on
  population records *z* as well (RMIA);
* ``query_signals`` — :class:`~privaudit.query_signals.QueryRequest` objects
  computed by asking the target about perturbed copies of every record
  (label-only attacks); the signal's values are stored under ``request.key``;
* ``augmentations`` — :class:`~privaudit.augmentations.Augmentations` under
  which ``signals`` are wanted (Carlini et al. 2022, §VI): the target (and, for a
  reference attack, every reference model) is asked about the Q augmented
  copies of each record instead of the record alone, and the values, shape
  ``(n, Q)`` (reference ``(n, K, Q)``), are stored under
  ``augmented_signal_key(signal, augmentations)`` (e.g.
  ``logit_confidence@flip,shift=1``) so they never mix with plain values. Each
  distinct augmentation is queried once per run. An attack has at most one;
  empty means one plain query per record;
* ``features`` — the records' feature tables too: ``fit(..., features=)`` gets the
  population's, ``score(..., features=)`` the scored records' (QMIA regresses
  the score on them);
* ``reference_query_signals`` — :class:`~privaudit.query_signals.ReplayRequest`
  objects: the same perturbed copies asked of the reference models as well
  (their values, ``(n_records, n_models)``, in the reference signals under
  ``replay.key``); reference queries are the attacker's own, not the target's;
* ``text_queries`` — :class:`~privaudit.text.attacks.TextQuery` objects
  (token log-probabilities of texts, lower-cased texts or neighbours, from
  the target or a reference language model); a text attack scores
  ``score(texts, answers)`` instead of ``score(signals, labels)``.

Example
-------
>>> from privaudit.attacks import build_attack
>>> build_attack({"name": "classwise_threshold", "signal": "loss"}).needs
AttackNeeds(signals=('loss',), population=True, reference=False, reference_mode=None, population_z=False, query_signals=(), augmentations=(), text_queries=(), features=False, reference_query_signals=())
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["AttackNeeds"]


@dataclass(frozen=True)
class AttackNeeds:
    """What one attack needs from the pipeline before ``fit``/``score`` (see the module docstring)."""

    signals: tuple[str, ...] = ()
    population: bool = False
    reference: bool = False
    #: "online" or "offline" for a reference attack; None otherwise
    reference_mode: str | None = None
    population_z: bool = False
    query_signals: tuple = ()
    #: Augmentations the ``signals`` are wanted under (at most one); () for one plain query per record
    augmentations: tuple = ()
    text_queries: tuple = ()
    #: fit and score also take ``features=`` (the records' feature DataFrame); see the module docstring
    features: bool = False
    reference_query_signals: tuple = ()

    @property
    def texts(self) -> bool:
        """True for a text attack (scored from token log-probabilities, not from signals)."""
        return bool(self.text_queries)

    @property
    def any_population(self) -> bool:
        """True when the target must be queried on population records (for ``fit`` or for RMIA's z)."""
        return self.population or self.population_z
