"""One shared contract for every registered text attack (like tests/test_conformance.py for tabular attacks).

The synthetic case has known leakage and needs no model. A stand-in scorer
gives each word a difficulty (its log-probability, from a hash of the word);
a text the "model" trained on has every token's log-probability raised
towards 0 — but only in its exact form: its lower-cased copy and its
perturbed neighbours are not memorised. μ_t and σ_t of the next-token
distribution are fixed, so Min-K %++ sees the same shift. The reference
scorer has the same difficulties and memorised nothing. Members must score
higher under every attack.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from sklearn.base import clone

from privaudit.exceptions import CapabilityError, ConfigError, DataError
from privaudit.metrics import roc_auc
from privaudit.text.attacks import TEXT_ATTACKS, TextAttack, build_text_attack, default_text_attacks
from privaudit.pipeline import collect_text
from privaudit.text.token_scores import TokenLogProbs

MEMORISED_SHRINK = 0.25  # a memorised token's log p is multiplied by this (closer to 0)
WORDS = [f"{a}{b}" for a in ("ka", "lo", "mi", "nu", "ra", "te", "vo") for b in ("s", "n", "x", "p", "d")]


def _difficulty(word: str) -> float:
    digest = hashlib.sha256(word.encode()).digest()
    return -(0.5 + 6.0 * digest[0] / 255.0)


class StandInScorer:
    """A 'language model' whose answers are known: log p of each word, raised for memorised texts."""

    def __init__(self, name: str, memorised: set[str]) -> None:
        self.name = name
        self.memorised = memorised
        self.calls: list[tuple[int, bool]] = []

    def token_log_probs(self, texts, *, vocab_stats: bool = False) -> TokenLogProbs:
        self.calls.append((len(texts), vocab_stats))
        per_text = []
        for text in texts:
            values = np.array([_difficulty(w) for w in text.split()])
            per_text.append(values * MEMORISED_SHRINK if text in self.memorised else values)
        if not vocab_stats:
            return TokenLogProbs.from_arrays(per_text)
        return TokenLogProbs.from_arrays(per_text, [np.full(v.size, -4.0) for v in per_text], [np.full(v.size, 1.5) for v in per_text])


def _texts(n: int, rng) -> list[str]:
    texts = []
    for _ in range(n):
        words = rng.choice(WORDS, size=rng.integers(8, 20))
        texts.append(" ".join(w.capitalize() if rng.random() < 0.4 else w for w in words))
    return texts


@pytest.fixture(scope="module")
def case():
    rng = np.random.default_rng(7)
    texts = _texts(160, rng)
    is_member = np.r_[np.ones(80, bool), np.zeros(80, bool)]
    target = StandInScorer("target", set(texts[:80]))
    reference = StandInScorer("reference", set())
    return texts, is_member, target, reference


def _all_attacks() -> list[TextAttack]:
    return [TEXT_ATTACKS.get(name)() for name in TEXT_ATTACKS.names()]


def test_registry_holds_the_attacks_of_the_issue():
    assert set(TEXT_ATTACKS.names()) >= {"loss", "zlib", "lowercase", "min_k", "min_k_plus_plus", "reference", "neighbourhood"}
    assert "reference" not in {a.name for a in default_text_attacks(has_reference=False)}
    assert len(default_text_attacks(has_reference=True)) == len(TEXT_ATTACKS)


@pytest.mark.parametrize("attack", _all_attacks(), ids=lambda a: a.name)
def test_attack_contract(attack, case):
    texts, is_member, target, reference = case
    collected = collect_text(target, texts, [attack], reference=reference)
    answers, stats = collected.answers, collected.text_stats
    assert set(stats) == {q.key for q in attack.queries()} == {q.key for q in attack.needs.text_queries}
    scores = attack.score(texts, answers)
    assert scores.shape == (len(texts),) and scores.dtype == np.float64 and np.isfinite(scores).all()
    # direction: members (memorised) score higher
    assert roc_auc(scores, is_member) > 0.9, attack.display_name
    # deterministic, and cloneable with its parameters (scikit-learn contract)
    twin = clone(attack)
    assert twin.get_params() == attack.get_params()
    np.testing.assert_array_equal(twin.score(texts, collect_text(target, texts, [twin], reference=reference).answers), scores)
    # a missing answer is refused with a message naming it
    for query in attack.queries():
        partial = {k: v for k, v in answers.items() if k != query.key}
        with pytest.raises(CapabilityError, match="needs"):
            attack.score(texts, partial)
    # answers for the wrong number of texts are refused
    with pytest.raises(DataError):
        attack.score(texts[:-1], answers)


def test_queries_are_merged_and_asked_once(case):
    texts, _, target, reference = case
    target.calls.clear()
    queries = [q for a in _all_attacks() for q in a.queries()]
    answers = collect_text(target, texts, _all_attacks(), reference=reference).answers
    keys = {q.key for q in queries}
    assert set(answers) == keys
    # the plain texts are scored once, with the vocabulary statistics Min-K %++ needs
    assert answers["target:identity"].has_vocab_stats
    assert sum(1 for n, _ in target.calls if n == len(texts)) == 2  # identity + lowercase (neighbours are 8×)


def test_reference_attack_without_reference_model_is_refused(case):
    texts, _, target, _ = case
    with pytest.raises(CapabilityError, match="reference model"):
        collect_text(target, texts, [build_text_attack("reference")])


def test_build_text_attack_validates_names_and_parameters():
    assert build_text_attack({"name": "min_k", "k": 0.1}).k == 0.1
    assert build_text_attack("neighbourhood").n_neighbours == 8
    with pytest.raises(ConfigError, match="known text attacks"):
        build_text_attack("no_such_attack")
    with pytest.raises(ConfigError, match="allowed: k"):
        build_text_attack({"name": "min_k", "kk": 1})


def test_text_package_exports_exist():
    import privaudit.text

    for name in privaudit.text.__all__:
        assert getattr(privaudit.text, name) is not None, name
