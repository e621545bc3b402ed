"""Reference-model training throughput per backend, the trainers' FLOP/s against this machine's GEMM, and RMIA scoring.

Run from the repository root::

    .venv/bin/python benchmarks/bench_reference.py                          # ~3 min on 2 cores
    .venv/bin/python benchmarks/bench_reference.py --write BENCHMARKS.md    # and replace its "reference models" section

Everything is measured in this one run, side by side:

1. **GEMM**: ``torch.matmul`` float32 at a large square size and at the trainer's own shapes, with one
   thread (what each worker process gets) and with all cores' threads; best of ``--repeats``.
2. **Trainer loop** (training only): one build_mlp model with :func:`privaudit.models.train_classifier`
   and K models with :func:`privaudit.reference.ensemble.train_mlp_ensemble`, one thread, on the Adult
   demo encoding; achieved FLOP/s = 6 · parameters · records · epochs / seconds.
3. **Backends**: :func:`privaudit.reference.train_reference_models` end to end (encoding, training,
   querying, store writes, worker start-up) for ``sequential``, ``process``, ``ensemble`` and ``ray``,
   each into a fresh store; models per minute and the same FLOP count over wall time.
4. **RMIA**: :func:`privaudit.attacks.rmia.rmia_scores` at N = 100k, Z = 50k against a bare
   ``np.sort`` + ``np.searchsorted`` of the same arrays and against the dense N × Z comparison
   (:func:`~privaudit.attacks.rmia.rmia_scores_dense`, timed on ``--dense-n`` records and scaled
   linearly in N); plus the whole online RMIA attack with 16 reference models.

``--write PATH`` replaces the part of PATH between the ``reference-models`` markers (or appends it),
leaving the rest of the file alone.
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _sections import cpu_line, replace_section  # noqa: E402  (benchmarks/ is the script folder)

BEGIN = "<!-- reference-models: written by benchmarks/bench_reference.py; edits between these markers are replaced -->"
END = "<!-- /reference-models -->"


def best_time(function, repeats: int) -> tuple[float, object]:
    """Best wall time (s) of ``repeats`` calls, and the last call's result."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return min(times), result


def mlp_parameters(widths: list[int]) -> int:
    """Weights and biases of an MLP with layer widths ``[n_inputs, *hidden, n_classes]``."""
    return sum((a + 1) * b for a, b in zip(widths[:-1], widths[1:]))


# -- 1. GEMM ------------------------------------------------------------------------
def bench_gemm(shapes: list[tuple[int, int, int]], threads: list[int], repeats: int) -> dict[tuple[int, tuple[int, int, int]], float]:
    """FLOP/s of ``(m × k) @ (k × n)`` float32 per (threads, shape); 2·m·k·n FLOPs per product."""
    import torch

    before = torch.get_num_threads()
    results = {}
    for n_threads in threads:
        torch.set_num_threads(n_threads)
        for m, k, n in shapes:
            a, b = torch.randn(m, k), torch.randn(k, n)
            calls = max(1, int(2e9 // (2 * m * k * n)))  # ~2 GFLOP per timed repeat, so small shapes are not timer noise
            torch.matmul(a, b)
            seconds, _ = best_time(lambda: [torch.matmul(a, b) for _ in range(calls)], repeats)
            results[(n_threads, (m, k, n))] = 2.0 * m * k * n * calls / seconds
    torch.set_num_threads(before)
    return results


# -- data and recipe ------------------------------------------------------------------------
def adult_setup(n_pool: int, n_models: int, epochs: int, hidden: list[int], seed: int):
    """Pool of ``n_pool`` Adult records (each model trains on half), the fitted demo encoder and a build_mlp recipe."""
    from privaudit.data import RecordSet
    from privaudit.datasets import load_adult
    from privaudit.datasets.adult import ADULT_CATEGORICAL, ADULT_LABEL, ADULT_NUMERIC
    from privaudit.demo import make_adult_encoder
    from privaudit.models import TrainingConfig
    from privaudit.reference import TorchRecipe, reference_keep_mask

    frame = load_adult()
    rows = np.sort(np.random.default_rng(seed).choice(len(frame), n_pool, replace=False))
    frame = frame.iloc[rows].reset_index(drop=True)
    features = frame[ADULT_NUMERIC + ADULT_CATEGORICAL]
    encoder = make_adult_encoder().fit(features)
    n_inputs = int(encoder.transform(features.iloc[:1]).shape[1])
    labels = (frame[ADULT_LABEL] == ">50K").to_numpy().astype(np.intp)
    pool = RecordSet(frame["record_id"].to_numpy().astype(str), features, labels, ("<=50K", ">50K"))
    recipe = TorchRecipe(
        "privaudit.models:build_mlp", {"n_inputs": n_inputs, "n_classes": 2, "hidden": list(hidden)},
        TrainingConfig(epochs=epochs, batch_size=128, learning_rate=1e-3), transform=encoder,
    )
    keep = reference_keep_mask(n_pool, n_models, seed=seed)
    return pool, keep, recipe, n_inputs


# -- 2. trainer loops ------------------------------------------------------------------------
def bench_trainer_loops(recipe, pool, keep, ensemble_k: int, repeats: int) -> list[dict]:
    """Training only (no encoding, query or store), one thread: one model alone, and ``ensemble_k`` models at once."""
    import torch

    from privaudit.models import build_mlp, train_classifier
    from privaudit.reference.ensemble import mlp_architecture, train_mlp_ensemble

    architecture = mlp_architecture(recipe)
    inputs = recipe.inputs(pool.features)
    rows = [np.flatnonzero(keep[:, k]) for k in range(ensemble_k)]
    before = torch.get_num_threads()
    results = []
    for n_threads in sorted({1, before}):
        torch.set_num_threads(n_threads)

        def alone():
            torch.manual_seed(0)
            train_classifier(build_mlp(**architecture), inputs[rows[0]], pool.labels[rows[0]], recipe.training, seed=0)

        seconds, _ = best_time(alone, repeats)
        results.append({"what": f"train_classifier, 1 model, {n_threads} thread(s)", "threads": n_threads, "models": 1, "seconds": seconds, "samples": rows[0].size})
    torch.set_num_threads(1)
    seconds, _ = best_time(lambda: train_mlp_ensemble(inputs, pool.labels, rows, list(range(ensemble_k)), architecture=architecture, training=recipe.training), min(2, repeats))
    results.append({"what": f"train_mlp_ensemble, {ensemble_k} models at once, 1 thread", "threads": 1, "models": ensemble_k, "seconds": seconds, "samples": float(np.mean([r.size for r in rows]))})
    torch.set_num_threads(before)
    return results


# -- 3. backends ------------------------------------------------------------------------
def bench_backends(recipe, pool, keep, n_jobs: int, with_ray: bool, seed: int) -> tuple[list[dict], float | None]:
    """``train_reference_models`` end to end per backend into a fresh store; returns rows and Ray's start-up seconds."""
    from privaudit.reference import ReferenceStore, train_reference_models
    from privaudit.reference.ensemble import EnsembleRecipe

    runs = [
        ("sequential", recipe, None, "this process, torch's default threads"),
        ("process", recipe, n_jobs, f"{n_jobs} worker processes, 1 thread each"),
        ("ensemble", EnsembleRecipe(recipe), n_jobs, f"{n_jobs} worker processes × one ensemble chunk each, 1 thread each"),
    ]
    ray_start = None
    if with_ray:
        runs.append(("ray", recipe, n_jobs, f"local Ray, num_cpus={n_jobs}, 1 thread per task"))
    rows = []
    for name, run_recipe, jobs, how in runs:
        if name == "ray":
            import ray

            begun = time.perf_counter()
            ray.init(num_cpus=n_jobs, include_dashboard=False, log_to_driver=False)
            ray_start = time.perf_counter() - begun
        with tempfile.TemporaryDirectory(prefix="privaudit-bench-") as root:
            begun = time.perf_counter()
            result = train_reference_models(run_recipe, pool, keep, pool, store=ReferenceStore(root), seed=seed, backend=name, n_jobs=jobs)
            seconds = time.perf_counter() - begun
        if name == "ray":
            ray.shutdown()
        assert result.trained == keep.shape[1]
        rows.append({"backend": name, "how": how, "seconds": seconds, "models": result.trained})
        print(f"  {name}: {result.trained} models in {seconds:.1f} s", file=sys.stderr)
    return rows, ray_start


# -- 4. RMIA ------------------------------------------------------------------------
def bench_rmia(n: int, z: int, dense_n: int, n_models: int, repeats: int, seed: int) -> list[dict]:
    from privaudit.attacks.reference import ReferenceSignals
    from privaudit.attacks.rmia import RMIAAttack, rmia_scores, rmia_scores_dense

    rng = np.random.default_rng(seed)
    ratio_x, ratio_z = rng.lognormal(0.0, 0.5, n), rng.lognormal(0.0, 0.5, z)

    def bare():
        return np.searchsorted(np.sort(ratio_z), ratio_x, side="right") / ratio_z.size

    ours_s, ours = best_time(lambda: rmia_scores(ratio_x, ratio_z), repeats)
    bare_s, base = best_time(bare, repeats)
    dense_s, dense = best_time(lambda: rmia_scores_dense(ratio_x[:dense_n], ratio_z), repeats)
    assert np.array_equal(ours, base) and np.array_equal(ours[:dense_n], dense)
    rows = [
        {"op": f"rmia_scores (N = {n:,}, Z = {z:,})", "seconds": ours_s, "bare": bare_s, "dense": dense_s * n / dense_n, "note": ""},
    ]
    # the whole attack: Pr(x) from 16 reference models, ratios, then the same sorted comparison
    p_x, p_z = rng.uniform(0.01, 1, n), rng.uniform(0.01, 1, z)
    ref_x, ref_z = rng.uniform(0.01, 1, (n, n_models)), rng.uniform(0.01, 1, (z, n_models))
    in_x, in_z = rng.random((n, n_models)) < 0.5, rng.random((z, n_models)) < 0.5
    labels = np.zeros(n, np.intp)
    reference = ReferenceSignals(
        signals={"confidence": ref_x}, in_mask=in_x, population_target={"confidence": p_z},
        population_signals={"confidence": ref_z}, population_in_mask=in_z, population_labels=np.zeros(z, np.intp),
    )
    attack = RMIAAttack(mode="online")
    attack_s, scores = best_time(lambda: attack.score({"confidence": p_x}, labels, reference), repeats)

    def bare_attack():
        rx, rz = p_x / ref_x.mean(axis=1), p_z / ref_z.mean(axis=1)
        return np.searchsorted(np.sort(rz), rx, side="right") / rz.size

    bare_attack_s, expected = best_time(bare_attack, repeats)
    dense_attack_s, _ = best_time(lambda: rmia_scores_dense((p_x / ref_x.mean(axis=1))[:dense_n], p_z / ref_z.mean(axis=1)), repeats)
    assert np.allclose(scores, expected, atol=1.0 / z)
    rows.append({"op": f"RMIAAttack(mode='online').score, {n_models} reference models", "seconds": attack_s, "bare": bare_attack_s, "dense": dense_attack_s * n / dense_n + (bare_attack_s - bare_s), "note": "input checks included"})
    return rows


# -- report ------------------------------------------------------------------------
def gflops(value: float) -> str:
    return f"{value / 1e9:.1f}"


def machine_info(torch_version: str) -> str:
    return (
        cpu_line() + "\n"
        f"- Python {platform.python_version()}, numpy {np.__version__}, torch {torch_version}"
    )


def render(args, info: dict) -> str:
    command = shlex.join([os.path.relpath(sys.executable), *sys.argv])
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    flops_per_model = info["flops_per_sample"] * info["samples"] * args.epochs
    gemm, cores = info["gemm"], info["cores"]
    peak_1 = max(v for (t, _), v in gemm.items() if t == 1)
    peak_all = max(v for (t, _), v in gemm.items() if t == cores)
    machine_peak = max(peak_all, cores * peak_1)

    lines = ["| product (m × k) @ (k × n) | " + " | ".join(f"{t} thread{'s' if t > 1 else ''} GFLOP/s" for t in info["threads"]) + " |", "|---|" + "---:|" * len(info["threads"])]
    for shape in info["shapes"]:
        lines.append(f"| {shape[0]} × {shape[1]} @ {shape[1]} × {shape[2]}{info['shape_notes'].get(shape, '')} | " + " | ".join(gflops(gemm[(t, shape)]) for t in info["threads"]) + " |")
    gemm_table = "\n".join(lines)

    lines = ["| trainer (training loop only) | s | models/min | GFLOP/s (6·P rule) | of GEMM peak, same threads |", "|---|---:|---:|---:|---:|"]
    for row in info["loops"]:
        flops = info["flops_per_sample"] * row["samples"] * args.epochs * row["models"]
        peak = max(v for (t, _), v in gemm.items() if t == row["threads"])
        lines.append(f"| {row['what']} | {row['seconds']:.2f} | {60 * row['models'] / row['seconds']:.1f} | {gflops(flops / row['seconds'])} | {100 * flops / row['seconds'] / peak:.0f} % |")
    loop_table = "\n".join(lines)

    sequential = next(r for r in info["backends"] if r["backend"] == "sequential")["seconds"]
    lines = ["| backend | how | s | models/min | × sequential | GFLOP/s (6·P rule) | of machine GEMM peak |", "|---|---|---:|---:|---:|---:|---:|"]
    for row in info["backends"]:
        flops = flops_per_model * row["models"]
        lines.append(
            f"| {row['backend']} | {row['how']} | {row['seconds']:.1f} | {60 * row['models'] / row['seconds']:.1f} | {sequential / row['seconds']:.2f} | "
            f"{gflops(flops / row['seconds'])} | {100 * flops / row['seconds'] / machine_peak:.0f} % |"
        )
    if info["ray_start"] is None:
        lines.append("| ray | not measured: `import ray` failed or `--no-ray` | | | | | |")
    backend_table = "\n".join(lines)

    lines = ["| operation | privaudit s | bare numpy sort s | ratio | dense N × Z s (extrapolated) | dense / privaudit |", "|---|---:|---:|---:|---:|---:|"]
    for row in info["rmia"]:
        note = f" ({row['note']})" if row["note"] else ""
        lines.append(f"| {row['op']}{note} | {row['seconds']:.4f} | {row['bare']:.4f} | {row['seconds'] / row['bare']:.2f} | {row['dense']:.2f} | {row['dense'] / row['seconds']:.0f} |")
    rmia_table = "\n".join(lines)

    def loop_fraction(row: dict) -> float:
        peak = max(v for (t, _), v in gemm.items() if t == row["threads"])
        return info["flops_per_sample"] * row["samples"] * args.epochs * row["models"] / row["seconds"] / peak

    one_thread = next(r for r in info["loops"] if r["threads"] == 1 and r["models"] == 1)["seconds"]
    all_threads = next(r for r in info["loops"] if r["threads"] == max(row["threads"] for row in info["loops"] if row["models"] == 1) and r["models"] == 1)["seconds"]
    ensemble_row = next(r for r in info["loops"] if r["models"] > 1)
    per_worker = math.ceil(args.models / cores)
    loop_share = (
        f"Training loops alone, from the rows above, would take: sequential {args.models} × {all_threads:.2f} s = {args.models * all_threads:.1f} s; "
        f"process and ray {per_worker} models per worker × {one_thread:.2f} s = {per_worker * one_thread:.1f} s; ensemble {per_worker} models per "
        f"worker at the {ensemble_row['models']}-model loop's rate ≈ {ensemble_row['seconds'] * per_worker / ensemble_row['models']:.1f} s. The rest of each wall time is "
        "worker start-up (a fork server that imports torch, each worker's first use of torch.optim), encoding the records "
        "(once per model, except in the ensemble backend: once per run), querying and store writes."
    )
    best_loop = max(info["loops"], key=loop_fraction)
    best_fraction = loop_fraction(best_loop)
    goal = "met" if best_fraction >= 0.70 else "**not met**"
    choice, reason, choice_s = info["choice"]
    parts = [
        "# Benchmarks: reference models",
        f"Measured {now} with\n\n```\n{command}\n```",
        f"## Machine\n\n{machine_info(info['torch'])}",
        "## GEMM (torch.matmul, float32, best of "
        f"{args.repeats})\n\n{gemm_table}\n\n1-thread peak: **{gflops(peak_1)} GFLOP/s**; {cores}-thread peak: **{gflops(peak_all)} GFLOP/s**; "
        f"machine peak taken as the larger of that and {cores} × the 1-thread peak: **{gflops(machine_peak)} GFLOP/s**.",
        f"## Trainer FLOP/s (Adult demo encoding: {info['n_inputs']} inputs, build_mlp hidden {args.hidden}, "
        f"{info['samples']:.0f} training records, {args.epochs} epochs, batch 128)\n\n{loop_table}\n\n"
        f"Goal ≥ 70 % of GEMM: {goal} — best {100 * best_fraction:.0f} % ({best_loop['what']}).",
        f"## Reference-training throughput ({args.models} models, each on {info['samples']:.0f} of {args.pool:,} pool records, "
        f"queried on all {args.pool:,}; {args.epochs} epochs)\n\n{backend_table}"
        + (f"\n\nRay start-up (`ray.init(num_cpus={cores})`, measured separately and not included above): {info['ray_start']:.1f} s." if info["ray_start"] is not None else "")
        + f"\n\n{loop_share}",
        f"`choose_local_backend(recipe, {args.models}, {cores})` for this recipe (took {choice_s:.2f} s, torch and torch.optim already loaded): "
        f"**{choice}** — “{reason}”.",
        f"## RMIA scoring (best of {args.repeats}; dense method timed on N = {args.dense_n:,} and scaled linearly in N)\n\n{rmia_table}",
        "## Notes\n\n" + NOTES.format(cores=cores, fps=info["flops_per_sample"], params=info["params"], first=info["first_layer"], actual=info["actual_per_sample"], less=100 * (1 - info["actual_per_sample"] / info["flops_per_sample"]), epochs=args.epochs, slower=round(200 / args.epochs, 1)),
    ]
    return BEGIN + "\n" + "\n\n".join(parts) + "\n" + END


NOTES = """\
- **FLOP count.** Per training sample, 6 · P FLOPs with P = {params:,} parameters (weights and biases):
  2 · P for the forward pass (a multiply and an add per weight), 4 · P for the backward pass (gradients
  with respect to the activations and to the weights) — {fps:,} FLOPs. This rule counts the first
  layer's input gradient, which autograd skips (the inputs need none), so the work actually done is
  6 · P − 2 · {first:,} = {actual:,} FLOPs per sample, {less:.0f} % less: the fractions above are therefore
  upper estimates of the useful arithmetic rate. Adam, ReLU, the loss and the minibatch gathers are not
  counted at all.
- **GEMM peak** is the best of the products timed; the large square product is the machine's best case,
  the others are the trainer's own forward and backward products (batch 128). Per-core fractions compare
  one-thread loops with the one-thread peak; the backend table compares whole-machine throughput with the
  machine peak ({cores} cores).
- **Trainer loop** rows time training only: `train_classifier` as the `sequential`/`process`/`ray`
  backends run it, and `train_mlp_ensemble` as each `ensemble` worker runs a chunk. The ensemble's gain is
  per-step overhead (one set of kernel launches, autograd nodes and one fused Adam pass for K models
  instead of K of each); the products themselves are the same size, so for a wide model that is already
  compute-bound per step, the gain is modest.
- **Backends** run `train_reference_models` end to end into a fresh store: encoding the pool, training,
  querying every model on the pool, writing safetensors and outputs, and starting worker processes (the
  `process` and `ensemble` backends start a fork server that imports torch). Ray's own start-up is
  measured apart. Training time scales with the epochs: the demo's 200-epoch recipe trains about
  {slower:g} × fewer models per minute than the {epochs}-epoch figures here (a little better than that,
  as the fixed costs stay the same).
- **RMIA ratio** = privaudit s / bare numpy s on the same arrays. `rmia_scores` is `np.sort` +
  `np.searchsorted` plus a float64 conversion and a division by γ; the dense method builds the N × Z
  boolean matrix (O(N·Z) time, O(dense N · Z) memory per call) and is timed on a slice of N and scaled
  linearly. The whole-attack row adds the input checks, Pr(x) from the reference models and the
  ratios; its bare baseline does the mean, the division and the same sort, and its dense column adds
  that preparation to the extrapolated dense comparison.
- The machine is shared: other jobs may run alongside (see the load average), which slows every row;
  the one-thread trainer-loop rows, run one right after another in one process, compare the trainers most fairly.
"""


def write_section(path: Path, section: str) -> None:
    """Replace this benchmark's marked section of ``path`` with ``section`` (or append it)."""
    replace_section(path, section, BEGIN, END)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", type=int, default=16, help="reference models per backend (default 16)")
    parser.add_argument("--pool", type=int, default=2000, help="Adult pool records; each model trains on half (default 2,000)")
    parser.add_argument("--epochs", type=int, default=20, help="training epochs per model (default 20)")
    parser.add_argument("--hidden", type=int, nargs="+", default=[512, 512], help="build_mlp hidden widths (default 512 512, the demo's overfit_mlp)")
    parser.add_argument("--ensemble-k", type=int, default=8, help="models at once in the trainer-loop row (default 8)")
    parser.add_argument("--rmia-n", type=int, default=100_000)
    parser.add_argument("--rmia-z", type=int, default=50_000)
    parser.add_argument("--dense-n", type=int, default=5_000, help="records the dense RMIA method is timed on (default 5,000)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-ray", action="store_true", help="skip the Ray backend")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--write", metavar="PATH", help="replace the reference-models section of PATH (e.g. BENCHMARKS.md)")
    args = parser.parse_args(argv)

    import torch

    from privaudit.reference.backends import default_jobs
    from privaudit.reference.backend_choice import choose_local_backend

    cores = default_jobs()
    say = lambda message: print(message, file=sys.stderr)  # noqa: E731
    say("data and recipe …")
    pool, keep, recipe, n_inputs = adult_setup(args.pool, args.models, args.epochs, args.hidden, args.seed)
    widths = [n_inputs, *args.hidden, 2]
    params = mlp_parameters(widths)
    batch = 128
    shapes = [(2048, 2048, 2048), (batch, n_inputs, args.hidden[0]), (n_inputs, batch, args.hidden[0])]
    notes = {shapes[0]: " (square)", shapes[1]: " (layer 1 forward)", shapes[2]: " (layer 1 weight gradient)"}
    if len(args.hidden) > 1:
        shapes.append((batch, args.hidden[0], args.hidden[1]))
        notes[shapes[-1]] = " (layer 2 forward)"
    threads = sorted({1, cores})
    say("GEMM …")
    gemm = bench_gemm(shapes, threads, args.repeats)
    say("choosing a backend …")
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])  # first use of torch.optim imports more of torch (~2 s here); training pays it anyway
    begun = time.perf_counter()
    choice, reason = choose_local_backend(recipe, args.models, cores)
    choice_s = time.perf_counter() - begun
    say(f"  {choice}: {reason}")
    say("trainer loops …")
    loops = bench_trainer_loops(recipe, pool, keep, args.ensemble_k, args.repeats)
    say("backends …")
    try:
        import ray  # noqa: F401

        with_ray = not args.no_ray
    except ImportError:
        with_ray = False
    backends, ray_start = bench_backends(recipe, pool, keep, cores, with_ray, args.seed)
    say("RMIA …")
    rmia = bench_rmia(args.rmia_n, args.rmia_z, args.dense_n, 16, args.repeats, args.seed)

    info = {
        "torch": torch.__version__, "cores": cores, "gemm": gemm, "shapes": shapes, "shape_notes": notes, "threads": threads,
        "n_inputs": n_inputs, "params": params, "flops_per_sample": 6 * params, "first_layer": n_inputs * args.hidden[0],
        "actual_per_sample": 6 * params - 2 * n_inputs * args.hidden[0], "samples": float(keep.sum(axis=0).mean()),
        "loops": loops, "backends": backends, "ray_start": ray_start, "rmia": rmia, "choice": (choice, reason, choice_s),
    }
    text = render(args, info)
    print(text)
    if args.write:
        write_section(Path(args.write), text)


if __name__ == "__main__":
    main()
