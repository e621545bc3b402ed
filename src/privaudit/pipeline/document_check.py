"""Document checks: was this document — or this author's documents — used to train a language model?

``privaudit check CONFIG --documents FILE [--author-column COL]`` for a ``causal_lm``
config (:func:`privaudit.pipeline.document_run.run_document_check` loads and
scores; this module holds the statistics, pure numpy over given scores).

**Per document.** A membership score ``s`` (higher = member-like) from one
text attack; its p-value against a null of held-out documents — the config's
non-member texts — is the conformal ``(1 + #{null ≥ s}) / (n + 1)``
(:func:`privaudit.record_nulls.real_null_p_values`); a checked document that is
itself one of the null documents (the same text) is left out of its own null.
Benjamini–Hochberg q-values across the checked documents; the power is the
share of the config's member texts with ``p ≤ α`` against the same null
(Clopper–Pearson 95 % interval); with ``m`` > 1 checked documents (or authors)
also the share with ``p ≤ α/m`` (``power_floor``), a lower bound on the chance
Benjamini–Hochberg calls a member used, the power the upper one.

**Per author** (``--author-column``). Each author's documents are one person
(:func:`privaudit.persons.person_tests`): the statistic combines the author's
documents' scores, and its null is made of non-member authors of the config's
data (``data.person_column``) with as many documents; every checked author is
left out of the null. The power for an author with ``k`` documents is measured
on the config's member authors (:func:`privaudit.persons.person_power`).

**Blind baseline of the null** (:func:`null_blind_baseline`). The p-values are
valid only if a checked document is exchangeable with the null documents. A
bag-of-words classifier (:mod:`privaudit.text.blind`: TF-IDF + logistic
regression, cross-validated, never querying the model) is trained to tell the
checked documents from the null documents; each author's documents stay in one
fold. When it does so significantly (its shift p-value ≤ α, a test whose
false-alarm rate is at most α when the checked documents are drawn like the
null ones), the test is confounded: every "evidence of use" verdict is
withheld and replaced by a sentence saying so (Das, Zhang & Tramèr 2024, "Blind
Baselines Beat Membership Inference Attacks for Foundation Models"). With
fewer than :data:`MIN_BLIND_DOCUMENTS` checked documents, or checked documents
of a single author, the baseline cannot be run: the output says that the
assumption is then unchecked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from privaudit.person_check import PersonVerdict
from privaudit.exceptions import DataError
from privaudit.metrics.pvalues import benjamini_hochberg, empirical_p_values, power_and_bh_floor
from privaudit.record_nulls import real_null_p_values
from privaudit.record_verdicts import format_p_value, verdict

__all__ = ["DocumentVerdict", "AuthorVerdict", "NullBlindBaseline", "DocumentCheck", "null_blind_baseline", "check_documents",
           "MIN_BLIND_DOCUMENTS", "CONFOUNDED"]

#: fewest checked documents the blind baseline of the null is run on (one per fold of a 3-fold cross-validation)
MIN_BLIND_DOCUMENTS = 3

#: the start of every verdict withheld because the blind baseline of the null separates the checked documents
CONFOUNDED = "Verdict withheld: the test is confounded"


@dataclass(frozen=True)
class DocumentVerdict:
    """One checked document: its id, author (or None), score, p-value, q-value, whether it counts as evidence, and the verdict."""

    document: str
    author: str | None
    score: float
    p_value: float
    q_value: float
    significant: bool
    verdict: str


#: one checked author: the person-level result of :mod:`privaudit.person_check`, for documents
AuthorVerdict = PersonVerdict


@dataclass(frozen=True)
class NullBlindBaseline:
    """The blind baseline of the check's own null: checked documents (label 1) against the null documents (label 0).

    ``ran`` False (too few checked documents or authors) leaves ``auc``, ``auc_ci`` and ``p_value`` None;
    ``confounded`` is ``p_value ≤ α``; ``sentence`` says what the result means for the verdicts.
    """

    ran: bool
    n_checked: int
    n_null: int
    auc: float | None
    auc_ci: tuple | None
    p_value: float | None
    confounded: bool
    sentence: str
    description: str | None = None


@dataclass
class DocumentCheck:
    """Everything a document check reports (see the module docstring)."""

    target: str
    attack: str
    attack_reason: str
    alpha: float
    documents: list
    authors: list
    n_null: int
    power: float
    power_ci: tuple
    n_members: int
    blind: NullBlindBaseline
    multiple_testing_note: str
    notes: list = field(default_factory=list)
    #: share of the member texts with p ≤ alpha / m (m checked documents; equals ``power`` when m = 1)
    power_floor: float | None = None
    power_floor_ci: tuple | None = None


def _groups(prefix: str, authors, n: int) -> np.ndarray:
    """Authors as fold groups, or one group per document (``prefix`` + position) when authors are unknown."""
    return np.asarray(authors, dtype=str) if authors is not None else np.char.add(f"\x00{prefix}-", np.arange(n).astype(str))


def null_blind_baseline(checked_texts: Sequence[str], null_texts: Sequence[str], *, alpha: float, seed: int = 0, checked_authors=None,
                        null_authors=None, n_bootstrap: int = 1000) -> NullBlindBaseline:
    """Can a model-free classifier tell the checked documents from the null documents? (module docstring).

    Null documents identical to a checked one are left out (they would sit on
    both sides). Folds keep each author's documents together (documents of
    unknown authors are their own groups), and the shift p-value compares
    authors within each fold (:func:`privaudit.text.blind.shift_p_value`).
    """
    from privaudit.text.blind import blind_baseline

    checked = [str(t) for t in checked_texts]
    seen = set(checked)
    keep = np.asarray([i for i, t in enumerate(null_texts) if str(t) not in seen], dtype=np.int64)
    m, n = len(checked), int(keep.size)
    groups = np.concatenate([_groups("checked", checked_authors, m),
                             _groups("null", None if null_authors is None else np.asarray(null_authors, dtype=str)[keep], n)])
    n_checked_groups = np.unique(groups[:m]).size
    if m < MIN_BLIND_DOCUMENTS or n_checked_groups < 2 or np.unique(groups[m:]).size < 2:
        why = (f"only {m} checked document(s) (it needs at least {MIN_BLIND_DOCUMENTS})" if m < MIN_BLIND_DOCUMENTS
               else "the checked documents are all by one author (each author's documents must stay in one fold, so it needs 2 or more)"
               if n_checked_groups < 2 else f"the null has documents of fewer than 2 authors ({n} documents)")
        return NullBlindBaseline(False, m, n, None, None, None, False,
                                 f"Blind baseline not run: {why}. Whether the checked documents are exchangeable with the null documents "
                                 "(same source, period and style) is therefore unchecked: an evidence verdict rests on that assumption alone.")
    labels = np.r_[np.ones(m, bool), np.zeros(n, bool)]
    texts = checked + [str(null_texts[i]) for i in keep]
    baseline = blind_baseline(texts, labels, seed=seed, fprs=(0.1,), n_bootstrap=n_bootstrap, confidence=0.95, groups=groups)
    auc, (low, high), p = baseline.metrics.auc, baseline.metrics.auc_ci, baseline.p_value
    figures = f"AUC {auc:.3f} [{low:.3f}, {high:.3f}], shift p = {format_p_value(p)}"
    confounded = bool(p <= alpha)
    if confounded:
        sentence = (f"The test is confounded: a bag-of-words classifier that never queries the model tells the {m} checked documents from "
                    f"the {n} null documents ({figures} ≤ α = {alpha:g}). They differ in ways visible without the model (source, period, "
                    "style, topic), so a member-like score may reflect that difference, not training: every 'evidence of use' verdict is "
                    "withheld. Check documents drawn like the config's data, or give the config non-member texts like the checked ones.")
    else:
        sentence = (f"The blind baseline does not tell the {m} checked documents from the {n} null documents ({figures} > α = {alpha:g}): "
                    "no sign that they differ without the model (not a proof of exchangeability; with few checked documents it has little power).")
    return NullBlindBaseline(True, m, n, float(auc), (float(low), float(high)), float(p), confounded, sentence, baseline.description)


def _reword(text: str, unit: str) -> str:
    """A record-check verdict (:func:`privaudit.record_verdicts.verdict`) worded for documents or authors."""
    if unit == "author":
        text = (text.replace("this record was used", "this author's documents were used")
                .replace("a record", "an author").replace("non-members (about", "non-member authors (about"))
    text = text.replace("records", f"{unit}s").replace("record", unit)
    return text.replace("people who were not in training", f"{unit}s not in training")


def _withheld(p: float, q: float | None) -> str:
    q_text = "" if q is None else f", q = {format_p_value(q)}"
    return (f"{CONFOUNDED} (p = {format_p_value(p)}{q_text} would otherwise count as evidence of use): the checked documents can be told "
            "from the null documents without the model (see the blind baseline).")


def _document_verdicts(ids, authors, scores, p, alpha, power, n_null, confounded, power_floor=None) -> list[DocumentVerdict]:
    m = len(ids)
    q = benjamini_hochberg(p) if m > 1 else p.copy()
    out = []
    for i in range(m):
        decisive = float(q[i] if m > 1 else p[i])
        significant = decisive <= alpha
        text = (_withheld(float(p[i]), float(q[i]) if m > 1 else None) if significant and confounded else
                _reword(verdict(float(p[i]), float(q[i]) if m > 1 else None, alpha, power, n_null, m, null_records="held-out documents",
                                power_floor=power_floor), "document"))
        out.append(DocumentVerdict(str(ids[i]), None if authors is None else str(authors[i]), float(scores[i]), float(p[i]), float(q[i]),
                                   bool(significant and not confounded), text))
    return out


def _unreachable(n_null: int, size: int, alpha: float) -> str:
    return (f"No verdict possible: only {n_null} null author(s) with {size} document{'s' if size != 1 else ''}, so the smallest p-value this "
            f"null can give, {format_p_value(1.0 / (1 + n_null))}, exceeds α = {alpha:g}. Give the config more non-member authors.")


def _no_real_null_authors(p: float) -> str:
    return (f"No verdict possible: the data names no authors of its held-out documents (data.person_column), so null authors were random "
            f"groups of documents, a null too narrow when one author's documents are alike (p = {format_p_value(p)} only for information). "
            "Give the config's data an author column (data.person_column).")


def _author_verdicts(scores, authors, null_scores, null_authors, member_scores, member_authors, alpha, seed, confounded) -> list[AuthorVerdict]:
    from privaudit.persons import person_power, person_tests

    checked_authors = np.asarray(authors, dtype=str)
    tests = person_tests(scores, checked_authors, null_scores, null_authors, seed=seed, exclude=set(checked_authors.tolist()))
    p = np.asarray(tests.p_value, dtype=np.float64)
    k = len(tests.persons)
    q = benjamini_hochberg(p) if k > 1 else p.copy()
    sizes = sorted({int(s) for s in tests.n_records})
    power = ({} if member_authors is None else
             person_power(member_scores, np.asarray(member_authors, dtype=str), null_scores, null_authors, sizes, alpha, seed=seed,
                          multiple=k))
    out = []
    for i, person in enumerate(tests.persons):
        size = int(tests.n_records[i])
        size_power, size_ci, n_members, floor, floor_ci = power.get(size, (None, None, 0, None, None))
        if size_power is not None and not np.isfinite(size_power):
            size_power, size_ci, floor, floor_ci = None, None, None, None
        decisive = float(q[i] if k > 1 else p[i])
        significant = decisive <= alpha
        n_null = int(tests.n_null_persons[i])
        significant = significant and null_authors is not None  # random groups of documents: too narrow a null for alike documents
        text = (_withheld(float(p[i]), float(q[i]) if k > 1 else None) if significant and confounded else
                _unreachable(n_null, size, alpha) if 1.0 / (1 + n_null) > alpha else
                _no_real_null_authors(float(p[i])) if null_authors is None else
                _reword(verdict(float(p[i]), float(q[i]) if k > 1 else None, alpha, size_power, n_null, k,
                                null_records=f"non-member authors with {size} document{'s' if size != 1 else ''}",
                                power_floor=floor), "author"))
        out.append(AuthorVerdict(str(person), size, float(tests.statistic[i]), float(p[i]), float(q[i]), bool(significant and not confounded),
                                 text, None if size_power is None else float(size_power), None if size_ci is None else tuple(map(float, size_ci)),
                                 int(n_members), int(tests.n_null_persons[i]), str(tests.null_how[i]),
                                 None if floor is None else float(floor), None if floor_ci is None else tuple(map(float, floor_ci))))
    return out


def check_documents(checked_texts: Sequence[str], checked_scores, null_texts: Sequence[str], null_scores, member_scores, *, alpha: float = 0.05,
                    checked_ids=None, checked_authors=None, null_authors=None, member_authors=None, seed: int = 0, blind: bool = True,
                    n_bootstrap: int = 1000, target: str = "", attack: str = "", attack_reason: str = "") -> DocumentCheck:
    """Per-document (and, with ``checked_authors``, per-author) p-values, q-values, verdicts and power; see the module docstring.

    Parameters
    ----------
    checked_texts : sequence of str, length m
        The documents checked; ``checked_scores`` (m,) their membership scores (higher = member-like).
    null_texts : sequence of str, length n
        Held-out documents (the config's non-member texts); ``null_scores`` (n,) their scores from the same attack and models.
    member_scores : array (n_members,)
        Scores of the config's member texts, to measure the power.
    alpha : float
        Significance level (false-discovery rate across several documents or authors).
    checked_ids : sequence of str, optional
        Ids of the checked documents (default ``document-0, ...``).
    checked_authors, null_authors, member_authors : arrays of str, optional
        Authors of the checked, null and member documents. ``checked_authors`` turns on the author-level test;
        ``null_authors`` None makes its null persons random groups of null documents: too narrow a null when an author's documents are alike, so every author verdict is then "No verdict possible" (p-values kept for information).
    seed : int
        Seeds the blind baseline's folds and bootstrap and the draw of null persons.
    blind : bool
        Run the blind baseline of the null (module docstring); False only for tests of the statistics.
    """
    checked_scores, null_scores, member_scores = (np.asarray(a, dtype=np.float64).ravel() for a in (checked_scores, null_scores, member_scores))
    m = len(checked_texts)
    if checked_scores.shape != (m,) or null_scores.shape != (len(null_texts),):
        raise DataError(f"document check: {m} checked texts with {checked_scores.size} scores, {len(null_texts)} null texts with {null_scores.size}")
    if m == 0 or null_scores.size == 0 or member_scores.size == 0:
        raise DataError(f"document check: needs checked documents ({m}), null documents ({null_scores.size}) and member texts ({member_scores.size})")
    ids = np.asarray(checked_ids if checked_ids is not None else [f"document-{i}" for i in range(m)], dtype=str)
    notes: list[str] = []
    p, left_out = real_null_p_values(checked_scores, np.asarray(checked_texts, dtype=str), null_scores, np.asarray(null_texts, dtype=str))
    if left_out:
        notes.append(f"{left_out} checked document(s) are held-out (non-member) texts of the config and were left out of their own null")
    power, power_ci, power_floor, power_floor_ci = power_and_bh_floor(empirical_p_values(member_scores, null_scores), alpha, m)
    baseline = (null_blind_baseline(checked_texts, null_texts, alpha=alpha, seed=seed, checked_authors=checked_authors, null_authors=null_authors,
                                    n_bootstrap=n_bootstrap) if blind else
                NullBlindBaseline(False, m, len(null_texts), None, None, None, False, "Blind baseline not run (blind=False)."))
    documents = _document_verdicts(ids, checked_authors, checked_scores, p, alpha, power, int(null_scores.size), baseline.confounded,
                                   power_floor)
    authors = ([] if checked_authors is None else
               _author_verdicts(checked_scores, checked_authors, null_scores, null_authors, member_scores, member_authors, alpha, seed, baseline.confounded))
    if checked_authors is not None and null_authors is None:
        notes.append("the config's data names no data.person_column: null authors are random groups of held-out documents, which assumes one "
                     "author's documents are no more alike than random documents; author verdicts are withheld")
    note = (f"{m} documents were checked: q-values are Benjamini–Hochberg adjusted (false-discovery rate ≤ {alpha:g} among documents called used)"
            if m > 1 else "One document was checked: q = p.")
    return DocumentCheck(target=target, attack=attack, attack_reason=attack_reason, alpha=alpha, documents=documents, authors=authors,
                         n_null=int(null_scores.size), power=float(power), power_ci=tuple(map(float, power_ci)), n_members=int(member_scores.size),
                         blind=baseline, multiple_testing_note=note, notes=notes,
                         power_floor=float(power_floor), power_floor_ci=tuple(map(float, power_floor_ci)))
