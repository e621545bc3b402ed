"""Causal language models as targets: per-token log-probabilities for batches of texts.

Extra ``privaudit[llm]`` (transformers, tokenizers, gguf, safetensors,
accelerate); torch and transformers are imported only when a model is
loaded or scored.

* :func:`load_causal_lm` loads a Hugging Face causal LM and its tokenizer
  from a local folder or from one GGUF file (which transformers dequantises
  to float32), never from the network (``local_files_only=True``).
* :class:`CausalLMTarget` scores texts: log p(x_t | x_<t) of every token and,
  on request, the mean and standard deviation of log p over the vocabulary at
  each position (Min-K %++). Texts are tokenised once, truncated to
  ``max_length`` tokens, sorted by length and batched so that padding is
  confined to texts of nearly equal length (:mod:`privaudit.text.batching`).

Every text is prefixed with one start token (the tokenizer's BOS, else its
EOS) so that its first real token is scored too; with ``prefix_token_id=None``
the first token is context only.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from privaudit.exceptions import ConfigError, TargetError, require
from privaudit.text.batching import in_order_batches, length_buckets, padding_fraction
from privaudit.text.token_scores import TokenLogProbs

__all__ = ["CausalLMTarget", "load_causal_lm", "resolve_prefix_token", "encode_texts", "pad_batch", "model_positions",
           "check_safetensors_file"]

#: Tokens per text when ``max_length`` is None (capped at the model's positions).
DEFAULT_MAX_LENGTH = 128

MODEL_HINT = "give a Hugging Face causal-LM folder (config.json, *.safetensors weights, tokenizer files) or a .gguf file"


def model_positions(model) -> int | None:
    """Most token positions the model's configuration allows (``n_positions``, ``max_position_embeddings`` or ``n_ctx``), or None."""
    config = getattr(model, "config", None)
    for attribute in ("n_positions", "max_position_embeddings", "n_ctx"):
        value = getattr(config, attribute, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def check_safetensors_file(path: Path) -> None:
    """Refuse a ``.safetensors`` file whose header is unreadable or whose tensors run past its end (a truncated copy).

    Layout: 8-byte little-endian header length N, N bytes of JSON, then the
    tensor data; every tensor's ``data_offsets`` must lie within the data.
    """
    import json
    import struct

    size = path.stat().st_size
    fix = "re-download or re-save the model (the file is truncated or corrupt)"
    with path.open("rb") as handle:
        head = handle.read(8)
        if len(head) < 8:
            raise TargetError(f"language model: {path} is {size} bytes, too short for a safetensors file; {fix}")
        (n_header,) = struct.unpack("<Q", head)
        if n_header > size - 8 or n_header > 100 * 2**20:
            raise TargetError(f"language model: {path} announces a {n_header:,}-byte header but holds {size:,} bytes; {fix}")
        try:
            header = json.loads(handle.read(n_header).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise TargetError(f"language model: {path} has an unreadable safetensors header; {fix}") from None
    if not isinstance(header, dict):
        raise TargetError(f"language model: {path} has an unreadable safetensors header; {fix}")
    ends = [entry["data_offsets"][1] for key, entry in header.items()
            if key != "__metadata__" and isinstance(entry, dict) and isinstance(entry.get("data_offsets"), list) and len(entry["data_offsets"]) == 2]
    needed = 8 + n_header + max(ends, default=0)
    if size < needed:
        raise TargetError(f"language model: {path} holds {size:,} bytes but its tensors need {needed:,}; {fix}")


def resolve_prefix_token(tokenizer, prefix_token_id="auto") -> int | None:
    """The token id put before every text: ``"auto"`` → BOS, else EOS, else None; an int or None passes through."""
    if prefix_token_id != "auto":
        return None if prefix_token_id is None else int(prefix_token_id)
    for attribute in ("bos_token_id", "eos_token_id"):
        value = getattr(tokenizer, attribute, None)
        if value is not None:
            return int(value)
    return None


def encode_texts(tokenizer, texts: Sequence[str], *, max_length: int, prefix_token_id: int | None) -> list[np.ndarray]:
    """Token ids of each text (prefix token first, no other special tokens), truncated to ``max_length`` ids in all."""
    if max_length < 2:
        raise ValueError(f"max_length must be ≥ 2 tokens, got {max_length}")
    encoded = tokenizer([str(t) for t in texts], add_special_tokens=False)["input_ids"]
    prefix = [] if prefix_token_id is None else [prefix_token_id]
    return [np.asarray((prefix + list(ids))[:max_length], dtype=np.int64) for ids in encoded]


def pad_batch(sequences: list[np.ndarray], pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Right-pad to the longest sequence: ids (B, T) and attention mask (B, T) of 0/1, int64."""
    longest = max((s.size for s in sequences), default=0)
    ids = np.full((len(sequences), longest), pad_id, dtype=np.int64)
    mask = np.zeros((len(sequences), longest), dtype=np.int64)
    for row, sequence in enumerate(sequences):
        ids[row, : sequence.size] = sequence
        mask[row, : sequence.size] = 1
    return ids, mask


class CausalLMTarget:
    """A causal language model that answers with token log-probabilities.

    Parameters
    ----------
    model : transformers PreTrainedModel (causal LM)
        Put in eval mode; called under ``torch.inference_mode``.
    tokenizer : transformers tokenizer
    name : str
    max_length : int or None
        Tokens per text at most (prefix token included); longer texts are
        truncated. At most the model's positions (:func:`model_positions`),
        else :class:`~privaudit.exceptions.ConfigError`; None = 128 or the
        model's positions if fewer.
    batch_size : int
        Texts per batch at most.
    max_batch_tokens : int
        Padded positions per batch at most (bounds the (B, T, vocabulary) logits in memory).
    device : str
        ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ...
    prefix_token_id : int, None or "auto"
        See :func:`resolve_prefix_token`.
    bucket : bool
        Sort by length before batching (True) or batch in the given order.

    Attributes
    ----------
    last_stats : dict
        After each :meth:`token_log_probs`: ``texts``, ``tokens`` (scored
        positions incl. the prefix), ``padded_slots``, ``padding_fraction``,
        ``seconds``.
    """

    def __init__(self, model, tokenizer, *, name: str = "lm", max_length: int | None = 128, batch_size: int = 16,
                 max_batch_tokens: int = 4096, device: str = "cpu", prefix_token_id="auto", bucket: bool = True) -> None:
        positions = model_positions(model)
        if max_length is None:
            max_length = DEFAULT_MAX_LENGTH if positions is None else min(DEFAULT_MAX_LENGTH, positions)
        if positions is not None and int(max_length) > positions:
            raise ConfigError(f"max_length (--max-length) {int(max_length)} exceeds the {positions} token positions of model '{name}'; "
                              f"use --max-length {positions} or less")
        self.model = model
        self.tokenizer = tokenizer
        self.name = name
        self.max_length = int(max_length)
        self.batch_size = int(batch_size)
        self.max_batch_tokens = int(max_batch_tokens)
        self.device = device
        self.prefix_token_id = resolve_prefix_token(tokenizer, prefix_token_id)
        self.bucket = bucket
        self.last_stats: dict = {}

    @property
    def pad_id(self) -> int:
        for attribute in ("pad_token_id", "eos_token_id", "bos_token_id"):
            value = getattr(self.tokenizer, attribute, None)
            if value is not None:
                return int(value)
        return 0

    def encode(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Token ids per text as this target scores them."""
        return encode_texts(self.tokenizer, texts, max_length=self.max_length, prefix_token_id=self.prefix_token_id)

    def batches(self, lengths: np.ndarray) -> list[np.ndarray]:
        if self.bucket:
            return length_buckets(lengths, batch_size=self.batch_size, max_batch_tokens=self.max_batch_tokens)
        return in_order_batches(int(lengths.size), batch_size=self.batch_size)

    #: ``token_log_probs(texts, on_batch=f)`` calls ``f(n)`` after each batch of ``n`` texts (see :func:`~privaudit.text.token_scores.score_texts`)
    reports_batches = True

    def token_log_probs(self, texts: Sequence[str], *, vocab_stats: bool = False, on_batch: Callable[[int], None] | None = None) -> TokenLogProbs:
        """Score ``texts``: log p(x_t | x_<t) of every token after the first (nats), μ_t and σ_t if ``vocab_stats``.

        Returns a :class:`~privaudit.text.token_scores.TokenLogProbs` with one
        entry per text, in the order given (T_i = tokens of text i − 1).
        ``on_batch(n)`` is called after each batch of ``n`` texts.
        """
        torch = require("torch", "llm")
        encoded = self.encode(texts)
        lengths = np.array([e.size for e in encoded], dtype=np.int64)
        n_scored = np.maximum(lengths - 1, 0)
        offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum(n_scored)
        log_probs = np.empty(int(offsets[-1]))
        means = np.empty_like(log_probs) if vocab_stats else None
        stds = np.empty_like(log_probs) if vocab_stats else None
        batches = self.batches(lengths)
        started = time.perf_counter()
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.inference_mode():
                for batch in batches:
                    if not batch.size or lengths[batch].max() < 2:
                        if on_batch is not None:
                            on_batch(int(batch.size))
                        continue
                    ids, mask = pad_batch([encoded[i] for i in batch], self.pad_id)
                    out = self._score_batch(torch, ids, mask, vocab_stats)
                    for row, i in enumerate(batch):
                        span = slice(offsets[i], offsets[i + 1])
                        count = int(n_scored[i])
                        log_probs[span] = out[0][row, :count]
                        if vocab_stats:
                            means[span] = out[1][row, :count]
                            stds[span] = out[2][row, :count]
                    if on_batch is not None:
                        on_batch(int(batch.size))
        except RuntimeError as exc:
            raise TargetError(f"target '{self.name}' failed while scoring texts ({str(exc).splitlines()[0]})") from exc
        finally:
            self.model.train(was_training)
        self.last_stats = {
            "texts": len(encoded), "tokens": int(lengths.sum()),
            "padded_slots": int(sum(b.size * lengths[b].max() for b in batches if b.size)),
            "padding_fraction": padding_fraction(lengths, batches), "seconds": time.perf_counter() - started,
        }
        np.minimum(log_probs, 0.0, out=log_probs)  # float rounding can leave log p a hair above 0 for p → 1
        return TokenLogProbs(log_probs, offsets, means, stds)

    def _score_batch(self, torch, ids: np.ndarray, mask: np.ndarray, vocab_stats: bool):
        input_ids = torch.from_numpy(ids).to(self.device)
        attention = torch.from_numpy(mask).to(self.device)
        logits = self.model(input_ids=input_ids, attention_mask=attention).logits[:, :-1].float()
        targets = input_ids[:, 1:]
        log_norm = torch.logsumexp(logits, dim=-1)
        token = logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1) - log_norm
        if not vocab_stats:
            return (token.double().cpu().numpy(),)
        log_p = logits - log_norm.unsqueeze(-1)
        p = log_p.exp()
        mean = (p * log_p).sum(-1)
        var = (p * (log_p - mean.unsqueeze(-1)).square()).sum(-1)
        return token.double().cpu().numpy(), mean.double().cpu().numpy(), var.clamp_min(0).sqrt().double().cpu().numpy()


def load_causal_lm(path: str | Path, *, gguf_file: str | None = None, device: str = "cpu", dtype: str = "float32"):
    """Load ``(model, tokenizer)`` from a local Hugging Face folder or a GGUF file, without network access.

    Parameters
    ----------
    path : str or Path
        A folder with ``config.json`` and weights (safetensors), or a ``.gguf``
        file, or a folder holding ``gguf_file``.
    gguf_file : str, optional
        GGUF file name inside ``path``. GGUF weights are dequantised to
        ``dtype`` on load (transformers does it; quantised GGUF types that
        transformers cannot dequantise raise :class:`TargetError`); the
        result is an ordinary model that can be fine-tuned and saved.
    device : str
    dtype : {"float32", "bfloat16", "float16"}
    """
    torch = require("torch", "llm")
    transformers = require("transformers", "llm")
    path = Path(path)
    if gguf_file is None and path.suffix == ".gguf":
        path, gguf_file = path.parent, path.name
    if not path.exists():
        raise ConfigError(f"language model: {path} not found; {MODEL_HINT}")
    if gguf_file is not None:
        require("gguf", "llm")
        if not (path / gguf_file).is_file():
            raise ConfigError(f"language model: GGUF file {path / gguf_file} not found; {MODEL_HINT}")
    elif not path.is_dir() or not (path / "config.json").is_file():
        raise ConfigError(f"language model: {path} has no config.json; {MODEL_HINT}")
    else:
        for weights in sorted(path.glob("*.safetensors")):
            check_safetensors_file(weights)
    if dtype not in ("float32", "bfloat16", "float16"):
        raise ConfigError(f"language model: dtype must be float32, bfloat16 or float16, got {dtype!r}")
    # never run a model folder's own Python code, never unpickle weights: safetensors (or GGUF) only
    kwargs = {"local_files_only": True, "trust_remote_code": False}
    if gguf_file is not None:
        kwargs["gguf_file"] = gguf_file
    weights = {} if gguf_file is not None else {"use_safetensors": True}
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(str(path), **kwargs)
        model = transformers.AutoModelForCausalLM.from_pretrained(str(path), dtype=getattr(torch, dtype), **kwargs, **weights)
    except Exception as exc:  # noqa: BLE001 - any failure to load an untrusted model file is the user's file, not a privaudit bug
        if isinstance(exc, (TargetError, ConfigError)):
            raise
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise TargetError(f"language model: cannot load {path}{' / ' + gguf_file if gguf_file else ''} ({reason}); {MODEL_HINT}") from exc
    if gguf_file is not None:
        # the weights are plain tensors now; drop the GGUF marker so the model can be saved and trained like any other
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.is_quantized = False
    model.to(device)
    model.eval()
    return model, tokenizer

