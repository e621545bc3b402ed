"""Fine-tune a causal language model on texts (next-token cross-entropy, AdamW), as the demo and the tests do.

Texts are encoded exactly as :class:`~privaudit.text.causal_lm.CausalLMTarget`
scores them (same prefix token, same truncation), grouped into
length-bucketed batches, and the batch order is shuffled each epoch (seeded).
The loss is the mean over real tokens; padding never counts.
"""

from __future__ import annotations

import time
from typing import Callable, Sequence

import numpy as np

from privaudit.exceptions import ConfigError, require
from privaudit.progress import track
from privaudit.text.batching import length_buckets
from privaudit.text.causal_lm import encode_texts, pad_batch, resolve_prefix_token

__all__ = ["finetune_causal_lm", "freeze_all_but_last_blocks"]


def freeze_all_but_last_blocks(model, n_blocks: int) -> int:
    """Train only the last ``n_blocks`` transformer blocks and the final norm; returns the trainable parameter count.

    Embeddings (and a tied output layer) stay frozen. Works for models that
    keep their blocks in a ``torch.nn.ModuleList`` named ``layers`` or ``h``
    (Llama, Mistral, Qwen, GPT-2, ...).
    """
    import torch

    blocks = None
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.ModuleList) and name.split(".")[-1] in ("layers", "h"):
            blocks = module
            break
    if blocks is None:
        raise ConfigError(f"{type(model).__name__}: no list of transformer blocks (layers / h) found to freeze around")
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    for block in list(blocks)[len(blocks) - n_blocks :]:
        for parameter in block.parameters():
            parameter.requires_grad_(True)
    for name, module in model.named_modules():
        if name.split(".")[-1] in ("norm", "ln_f") and not any(p.requires_grad for p in module.parameters()):
            for parameter in module.parameters():
                parameter.requires_grad_(True)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def finetune_causal_lm(
    model,
    tokenizer,
    texts: Sequence[str],
    *,
    epochs: int = 3,
    learning_rate: float = 5e-5,
    batch_size: int = 8,
    max_length: int = 64,
    weight_decay: float = 0.0,
    last_blocks: int | None = None,
    prefix_token_id="auto",
    seed: int = 0,
    device: str = "cpu",
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Train ``model`` in place on ``texts``; returns ``{"epochs", "steps", "seconds", "tokens_per_second", "loss_per_epoch", "trainable_parameters"}``.

    Parameters
    ----------
    model : transformers causal LM
    tokenizer : its tokenizer
    texts : sequence of str
        Training texts (repeat a text to train on it more often).
    epochs, learning_rate, batch_size, weight_decay
        AdamW over ``epochs`` passes; batches are length buckets in shuffled order.
    max_length : int
        Tokens per text at most (as in the target that will score the model).
    last_blocks : int, optional
        Train only the last ``last_blocks`` transformer blocks
        (:func:`freeze_all_but_last_blocks`); default: every parameter.
    prefix_token_id : int, None or "auto"
        As in :class:`~privaudit.text.causal_lm.CausalLMTarget`; keep the two equal.
    seed : int
        Seeds torch and the batch order.
    """
    torch = require("torch", "llm")
    if epochs < 1:
        raise ConfigError(f"epochs must be ≥ 1, got {epochs}")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    prefix = resolve_prefix_token(tokenizer, prefix_token_id)
    encoded = encode_texts(tokenizer, texts, max_length=max_length, prefix_token_id=prefix)
    encoded = [e for e in encoded if e.size >= 2]
    lengths = np.array([e.size for e in encoded])
    pad_id = next((int(v) for v in (getattr(tokenizer, a, None) for a in ("pad_token_id", "eos_token_id", "bos_token_id")) if v is not None), 0)
    if last_blocks is not None:
        trainable = freeze_all_but_last_blocks(model, int(last_blocks))
    else:
        for parameter in model.parameters():
            parameter.requires_grad_(True)
        trainable = sum(p.numel() for p in model.parameters())
    optimiser = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=learning_rate, weight_decay=weight_decay)
    batches = length_buckets(lengths, batch_size=batch_size)
    model.to(device)
    model.train()
    say = progress or (lambda message: None)
    started, steps, losses = time.perf_counter(), 0, []
    with track(progress, f"fine-tuning {len(encoded):,} texts × {epochs} epochs", epochs * len(batches), "batches") as advance:
        for epoch in range(epochs):
            total, count = 0.0, 0
            for b in rng.permutation(len(batches)):
                batch = batches[b]
                ids, mask = pad_batch([encoded[i] for i in batch], pad_id)
                input_ids = torch.from_numpy(ids).to(device)
                attention = torch.from_numpy(mask).to(device)
                labels = input_ids.masked_fill(attention == 0, -100)
                loss = model(input_ids=input_ids, attention_mask=attention, labels=labels).loss
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                optimiser.step()
                steps += 1
                real = int(mask[:, 1:].sum())
                total += float(loss.detach()) * real
                count += real
                advance(1, note=f"epoch {epoch + 1}/{epochs}, mean token loss {total / max(count, 1):.3f}")
            losses.append(total / max(count, 1))
            say(f"fine-tuning: epoch {epoch + 1}/{epochs}, mean token loss {losses[-1]:.3f}")
    model.eval()
    seconds = time.perf_counter() - started
    return {
        "epochs": epochs, "steps": steps, "seconds": seconds, "tokens_per_second": float(lengths.sum()) * epochs / max(seconds, 1e-9),
        "loss_per_epoch": losses, "trainable_parameters": int(trainable), "texts": len(encoded),
    }
