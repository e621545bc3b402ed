"""How true is the reference-training ETA? Shown time left against the time the run actually took.

Run from the repository root::

    .venv/bin/python benchmarks/bench_progress.py                          # ~1 min on 2 cores
    .venv/bin/python benchmarks/bench_progress.py --write BENCHMARKS.md    # and replace its "progress" section

One run of :func:`privaudit.reference.train_reference_models` with backend ``ensemble`` on 2 worker
processes (``--models`` build_mlp models of 2 × 256 units, ``--epochs`` epochs, 2,000 records × 100
features; a quarter of the models are already in the store). Every report the engine makes is
recorded with its time, and two estimators read the same reports:

* **per model** (privaudit before issue 14): time left = elapsed / models finished in this run ×
  models left, updated only when a model finishes — a batched ensemble finishes all its models at once;
* **now** (:class:`privaudit.progress.ReferenceTrainingProgress`): work in fractional models
  (``e / (E + 1)`` of each model after epoch ``e``), the rate from the first fine-grained step.

The table shows, every ~10 % of the run, the time left each estimator showed against the truth.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _sections import cpu_line, replace_section  # noqa: E402  (benchmarks/ is the script folder)

BEGIN, END = "<!-- progress:begin -->", "<!-- progress:end -->"


def _run(models: int, epochs: int, store_dir: Path) -> tuple[list[tuple[float, str, tuple]], float]:
    import pandas as pd

    from privaudit.data import RecordSet
    from privaudit.models import TrainingConfig
    from privaudit.reference import ReferenceStore, TorchRecipe, reference_keep_mask, train_reference_models
    from privaudit.reference.ensemble import EnsembleRecipe

    rng = np.random.default_rng(0)
    n, d = 2000, 100
    x = rng.normal(size=(n, d)).astype(np.float32)
    pool = RecordSet(np.array([f"r{i:05d}" for i in range(n)]), pd.DataFrame(x, columns=[f"f{j}" for j in range(d)]), (x[:, 0] > 0).astype(np.int64), ("no", "yes"))
    recipe = EnsembleRecipe(TorchRecipe("privaudit.models:build_mlp", {"n_inputs": d, "n_classes": 2, "hidden": [256, 256]}, TrainingConfig(epochs=epochs, batch_size=128)))
    keep = reference_keep_mask(n, models, seed=0)
    store = ReferenceStore(store_dir)
    train_reference_models(recipe, pool, keep[:, : models // 4], pool, store=store, seed=0, backend="ensemble", n_jobs=2)
    events: list[tuple[float, str, tuple]] = []
    started = time.monotonic()

    class Recorder:
        def __call__(self, done, total, message):
            events.append((time.monotonic() - started, "models", (done, total)))

        def work(self, done, total):
            events.append((time.monotonic() - started, "work", (done, total)))

    train_reference_models(recipe, pool, keep, pool, store=store, seed=0, backend="ensemble", n_jobs=2, progress=Recorder())
    return events, time.monotonic() - started


def _replay(events: list[tuple[float, str, tuple]]) -> list[tuple[float, float | None, float | None]]:
    """(time, per-model time left, current time left) after each event, both read from the same reports."""
    from privaudit.progress import ReferenceTrainingProgress

    now = [0.0]
    current = ReferenceTrainingProgress(lambda message: None, "bench", clock=lambda: now[0])
    first_done: int | None = None
    per_model: float | None = None
    rows = []
    for at, kind, (done, total) in events:
        now[0] = at
        if kind == "models":
            if first_done is None:
                first_done = done
            fresh = done - first_done
            per_model = at / fresh * (total - done) if fresh > 0 and done < total else (0.0 if done >= total else per_model)
            current(done, total, "")
        else:
            current.work(done, total)
        left = current.estimator.seconds_left if current.estimator is not None else None
        rows.append((at, per_model, left))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=120)
    parser.add_argument("--write", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        events, total_s = _run(args.models, args.epochs, Path(folder))
    rows = _replay(events)
    lines = ["| elapsed | true time left | per model (before) | now |", "| ---: | ---: | ---: | ---: |"]
    shown, first_per_model = set(), True

    def fmt(value: float | None) -> str:
        return "—" if value is None else f"{value:.0f} s"

    for at, per_model, left in rows:
        decile = int(10 * at / total_s)
        if per_model is not None and first_per_model:  # the first estimate the per-model rule could show
            first_per_model = False
            lines.append(f"| {at:.1f} s (first model done) | {total_s - at:.1f} s | {fmt(per_model)} | {fmt(left)} |")
            continue
        if decile in shown or decile >= 10:
            continue
        shown.add(decile)
        lines.append(f"| {at:.0f} s | {total_s - at:.0f} s | {fmt(per_model)} | {fmt(left)} |")
    section = "\n".join([
        BEGIN,
        "## Progress: reference-training ETA against the truth",
        "",
        f"`benchmarks/bench_progress.py --models {args.models} --epochs {args.epochs}`: backend `ensemble`, 2 workers, "
        f"{args.models // 4} of {args.models} models found in the store; the run took {total_s:.0f} s. "
        "\"—\": no estimate shown yet (before issue 14 nothing moved until the first chunk finished).",
        "",
        *lines,
        "",
        cpu_line(),
        END,
    ])
    print(section)
    if args.write is not None:
        replace_section(args.write, section, BEGIN, END)


if __name__ == "__main__":
    main()
