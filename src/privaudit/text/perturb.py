"""Neighbour texts for the neighbourhood attack, made without a model.

Mattern et al. (2023) build neighbours with a masked language model (BERT
substitutions). Here a neighbour is the text after a few seeded word-level
edits, each one of:

* **swap** two adjacent words,
* **delete** a word,
* **duplicate** a word (repeat it in place).

Each neighbour gets ``max(1, round(edit_rate · n_words))`` edits. The edits
keep the text's vocabulary and topic (so a classifier of topic cannot tell a
text from its neighbours) while breaking the exact word sequence a model may
have memorised. Words are whitespace-separated tokens; the whitespace between
them is normalised to single spaces in the neighbours.

Example
-------
>>> neighbours("one two three four five", n_neighbours=2, seed=0)
['one two four five', 'one two three four five five']
"""

from __future__ import annotations

import hashlib

import numpy as np

__all__ = ["EDITS", "perturb_words", "neighbours", "neighbour_texts"]

EDITS = ("swap", "delete", "duplicate")


def perturb_words(words: list[str], n_edits: int, rng: np.random.Generator) -> list[str]:
    """Apply ``n_edits`` random edits (swap / delete / duplicate) to a copy of ``words``."""
    words = list(words)
    for _ in range(n_edits):
        n = len(words)
        if n == 0:
            break
        edits = EDITS if n >= 2 else ("duplicate",)  # one word: neither a swap nor a deletion leaves a text
        edit = edits[int(rng.integers(len(edits)))]
        i = int(rng.integers(n - 1)) if edit == "swap" else int(rng.integers(n))
        if edit == "swap":
            words[i], words[i + 1] = words[i + 1], words[i]
        elif edit == "delete":
            del words[i]
        else:
            words.insert(i, words[i])
    return words


def _text_seed(text: str, seed: int) -> int:
    digest = hashlib.blake2b(f"{seed}\x00{text}".encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def neighbours(text: str, *, n_neighbours: int = 8, edit_rate: float = 0.1, seed: int = 0) -> list[str]:
    """``n_neighbours`` perturbed copies of ``text``; the same (text, seed) always gives the same list.

    The random stream is seeded by a hash of the seed and the text, so a
    text's neighbours do not depend on which other texts are audited with it.
    A neighbour equal to the text (e.g. swapping two equal words) is redrawn,
    up to 20 times.
    """
    if n_neighbours < 1:
        raise ValueError(f"n_neighbours must be ≥ 1, got {n_neighbours}")
    if not 0 <= edit_rate <= 1:
        raise ValueError(f"edit_rate must lie in [0, 1], got {edit_rate}")
    words = str(text).split()
    rng = np.random.default_rng(_text_seed(str(text), seed))
    n_edits = max(1, round(edit_rate * len(words)))
    original = " ".join(words)
    out = []
    for _ in range(n_neighbours):
        candidate = original
        for _attempt in range(20):
            candidate = " ".join(perturb_words(words, n_edits, rng))
            if candidate != original:
                break
        out.append(candidate)
    return out


def neighbour_texts(texts, *, n_neighbours: int = 8, edit_rate: float = 0.1, seed: int = 0) -> list[str]:
    """Neighbours of every text, flattened: text i's j-th neighbour is at ``i * n_neighbours + j``."""
    return [n for text in texts for n in neighbours(text, n_neighbours=n_neighbours, edit_rate=edit_rate, seed=seed)]
