"""Per-token log-probabilities of a batch of texts: what a causal language model answers.

A text of T scored tokens x_1..x_T has, for each t, the model's natural-log
probability ``log p(x_t | x_<t)`` and, when an attack needs the whole
next-token distribution (Min-K %++), its mean and standard deviation over the
vocabulary::

    μ_t = E_{z ~ p(·|x_<t)} [log p(z | x_<t)]
    σ_t = sqrt( E_{z ~ p(·|x_<t)} [(log p(z | x_<t) − μ_t)²] )

Texts have different lengths, so the values are stored flat, text after text,
with ``offsets`` marking where each text starts (the CSR layout).

Example
-------
>>> import numpy as np
>>> scores = TokenLogProbs.from_arrays([np.log([0.5, 0.25]), np.log([0.125])])
>>> scores.n_texts, scores.lengths.tolist()
(2, [2, 1])
>>> scores.text(0).round(4).tolist()
[-0.6931, -1.3863]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from privaudit.exceptions import DataError
from privaudit.progress import track

__all__ = ["TokenLogProbs", "score_texts"]


def _flat(name: str, values, n_tokens: int | None) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise DataError(f"{name} must be 1-D (one value per scored token), got shape {array.shape}")
    if n_tokens is not None and array.size != n_tokens:
        raise DataError(f"{name} has {array.size} values for {n_tokens} scored tokens")
    return array


@dataclass(frozen=True)
class TokenLogProbs:
    """Token-level answers of a language model for ``n_texts`` texts.

    Attributes
    ----------
    log_probs : float64 array, shape (n_tokens,)
        ``log p(x_t | x_<t)`` (nats, ≤ 0) of every scored token, text after text.
    offsets : int64 array, shape (n_texts + 1,)
        Text i owns ``log_probs[offsets[i]:offsets[i + 1]]``; ``offsets[0] == 0``.
    vocab_mean, vocab_std : float64 arrays, shape (n_tokens,), or None
        μ_t and σ_t of ``log p(z | x_<t)`` over the next-token distribution
        (see the module docstring); None when not computed.
    """

    log_probs: np.ndarray
    offsets: np.ndarray
    vocab_mean: np.ndarray | None = None
    vocab_std: np.ndarray | None = None

    def __post_init__(self) -> None:
        log_probs = _flat("log_probs", self.log_probs, None)
        offsets = np.asarray(self.offsets, dtype=np.int64)
        if offsets.ndim != 1 or offsets.size < 1 or offsets[0] != 0 or offsets[-1] != log_probs.size or np.any(np.diff(offsets) < 0):
            raise DataError(f"offsets must rise from 0 to the number of scored tokens ({log_probs.size}), got {offsets[:5]}…")
        if np.isnan(log_probs).any() or (log_probs > 1e-9).any():
            raise DataError("token log-probabilities must be ≤ 0 and not NaN")
        object.__setattr__(self, "log_probs", log_probs)
        object.__setattr__(self, "offsets", offsets)
        if (self.vocab_mean is None) != (self.vocab_std is None):
            raise DataError("give both vocab_mean and vocab_std, or neither")
        if self.vocab_mean is not None:
            object.__setattr__(self, "vocab_mean", _flat("vocab_mean", self.vocab_mean, log_probs.size))
            std = _flat("vocab_std", self.vocab_std, log_probs.size)
            if (std < 0).any() or np.isnan(std).any():
                raise DataError("vocab_std must be ≥ 0")
            object.__setattr__(self, "vocab_std", std)

    @classmethod
    def from_arrays(cls, log_probs: Sequence, vocab_mean: Sequence | None = None, vocab_std: Sequence | None = None) -> "TokenLogProbs":
        """Build from one array per text (and optionally matching μ and σ arrays)."""
        log_probs = [np.asarray(a, dtype=np.float64).reshape(-1) for a in log_probs]
        offsets = np.zeros(len(log_probs) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum([a.size for a in log_probs])
        join = lambda parts: np.concatenate(parts) if parts else np.empty(0)  # noqa: E731
        if vocab_mean is None:
            return cls(join(log_probs), offsets)
        return cls(join(log_probs), offsets, join([np.asarray(a, float).reshape(-1) for a in vocab_mean]),
                   join([np.asarray(a, float).reshape(-1) for a in vocab_std]))

    @property
    def n_texts(self) -> int:
        return int(self.offsets.size - 1)

    @property
    def n_tokens(self) -> int:
        return int(self.log_probs.size)

    @property
    def lengths(self) -> np.ndarray:
        """Scored tokens per text, int64 (n_texts,)."""
        return np.diff(self.offsets)

    @property
    def has_vocab_stats(self) -> bool:
        return self.vocab_mean is not None

    def text(self, i: int) -> np.ndarray:
        """``log p(x_t | x_<t)`` of text ``i``'s tokens, shape (T_i,)."""
        return self.log_probs[self.offsets[i] : self.offsets[i + 1]]

    def require_tokens(self, source: str) -> None:
        """Refuse texts with no scored token (no per-text statistic exists for them)."""
        empty = np.flatnonzero(self.lengths == 0)
        if empty.size:
            raise DataError(f"{source}: {empty.size} text(s) have no scored token (e.g. text {int(empty[0])}); drop empty texts or raise max_length")

    def per_text_sum(self) -> np.ndarray:
        """Σ_t log p(x_t | x_<t) per text, float64 (n_texts,); 0 for a text with no token."""
        sums = np.zeros(self.n_texts)
        nonempty = self.lengths > 0
        if nonempty.any():
            sums[nonempty] = np.add.reduceat(self.log_probs, self.offsets[:-1][nonempty])
        return sums


def score_texts(model, texts: Sequence[str], *, vocab_stats: bool = False, progress: Callable[[str], None] | None = None,
                description: str | None = None) -> "TokenLogProbs":
    """``model.token_log_probs(texts, vocab_stats=...)`` as a counted step of ``len(texts)`` texts.

    The step moves per batch for models that declare ``reports_batches = True``
    (:class:`~privaudit.text.causal_lm.CausalLM`, which then takes ``on_batch``), else once at the end.
    ``progress`` is an entry point's ``say`` (:mod:`privaudit.progress`) or None.
    """
    with track(progress, description or f"scoring texts with {model.name}", len(texts), "texts") as advance:
        if getattr(type(model), "reports_batches", False):  # the declared capability, as for targets (query_target)
            return model.token_log_probs(texts, vocab_stats=vocab_stats, on_batch=advance)
        scores = model.token_log_probs(texts, vocab_stats=vocab_stats)
        advance(len(texts))
        return scores
