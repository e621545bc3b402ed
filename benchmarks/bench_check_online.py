"""Offline vs online record checks on the demo's overfit target: power at α = 0.05 and the cost of an online check.

Run from the repository root::

    .venv/bin/python benchmarks/bench_check_online.py               # trains the demo targets, 16 offline and 16 online models
    .venv/bin/python benchmarks/bench_check_online.py --seed 1      # another draw of members, non-members, design and training
    .venv/bin/python benchmarks/bench_check_online.py --calibration # adds an online check of 800 held-out non-members (16 more models)

What it measures (``privaudit check`` as a user runs it, one torch thread per process):

* **offline**: the default check (offline RMIA, 16 reference models on population records, as the demo's
  reference block); power = share of the audit's 1,000 members with real-null p ≤ 0.05 against its 10,000
  non-members;
* **online**: ``check --mode online`` of 10 records (5 members, 5 non-members, seeded): the design puts them,
  the null (real non-members) and a power sample of members each IN a random half of 16 new reference models
  trained like the target; power = share of the power sample with p ≤ 0.05 against the null. The same models
  (reused from the store) give the other online attack's power. The wall time of this first online check
  (training included, empty store) is the cost figure; a rerun (every model reused) is timed too.
* ``--calibration``: an online check of 800 non-members never in the null: KS p of their p-values against
  uniform and their false-positive rate at α = 0.05.

Power figures carry n and a 95 % Clopper–Pearson interval.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time


def _row(label: str, result, seconds: float) -> str:
    low, high = result.power_ci
    ref = result.reference or {}
    models = f"{ref.get('trained', '—')} trained / {ref.get('reused', '—')} reused" if ref else "offline"
    return (f"| {label} | {result.attack} | {result.power:.1%} [{low:.1%}, {high:.1%}] | {result.n_members:,} | "
            f"{sum(result.n_null.values()):,} | {models} | {seconds:.0f} |")


def main() -> None:
    import numpy as np
    import torch
    from scipy import stats

    from privaudit.config import load_config
    from privaudit.data import concat_records
    from privaudit.demo import prepare_demo
    from privaudit.record_check import check_inputs, check_records

    torch.set_num_threads(1)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--target", default="overfit_mlp")
    parser.add_argument("--calibration", action="store_true")
    parser.add_argument("--folder", default=None, help="keep the demo folder (and its reference store) here")
    parser.add_argument("--pick-seed", type=int, default=None, help="seed of the 10 checked records (default: --seed); another value trains new models")
    parser.add_argument("--skip-offline", action="store_true", help="time the online check only (e.g. rerun on a kept --folder)")
    parser.add_argument("--cpu-seconds", action="store_true", help="also run the online check on the sequential backend in this process "
                        "(one torch thread, a fresh store) and report its CPU seconds: a cost other jobs' load does not inflate")
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, torch threads: {torch.get_num_threads()}", flush=True)
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.folder or f"{scratch}/demo"
        started = time.perf_counter()
        config, base = load_config(prepare_demo(folder, seed=args.seed, reference_models=16))
        print(f"demo prepared in {time.perf_counter() - started:.0f} s", flush=True)
        inputs = check_inputs(config, base, args.target)
        data = inputs.data
        rng = np.random.default_rng([args.seed if args.pick_seed is None else args.pick_seed, 10])
        ten = concat_records([data.records.subset(rng.choice(data.members, 5, replace=False)),
                              data.records.subset(rng.choice(data.nonmembers, 5, replace=False))])
        common = dict(null="real", seed=args.seed, label_name=inputs.label, reference=inputs.reference)
        rows = []

        if not args.skip_offline:
            started = time.perf_counter()
            offline = check_records(inputs.target, data, ten, **common)
            rows.append(_row(f"{args.target}: offline (default)", offline, time.perf_counter() - started))
            print(rows[-1], flush=True)

        started, steps = time.perf_counter(), []

        def progress(message: str) -> None:  # when each stage began (querying, training, outputs)
            if not steps or steps[-1][1][:24] != message[:24]:
                steps.append((time.perf_counter() - started, message))

        load = os.getloadavg()[0]
        online = check_records(inputs.target, data, ten, mode="online", progress=progress, **common)
        cost = time.perf_counter() - started
        print(f"load average (1 min) at the start of the online check: {load:.1f}, at its end: {os.getloadavg()[0]:.1f} (2 cores)", flush=True)
        print("online check stages (s from start, first message of each):", *(f"  {t:6.1f}  {m[:110]}" for t, m in steps), sep="\n")
        rows.append(_row(f"{args.target}: online (default), 10 records, empty store", online, cost))
        print(rows[-1], flush=True)
        print(f"online design: {online.reference}", flush=True)
        other = {"name": "rmia" if online.attack.startswith("lira") else "lira"}
        for label, attack in (("online, rerun (models reused)", None), ("online, other attack (models reused)", other)):
            started = time.perf_counter()
            again = check_records(inputs.target, data, ten, mode="online", attack=attack, **common)
            rows.append(_row(f"{args.target}: {label}", again, time.perf_counter() - started))
            print(rows[-1], flush=True)
        flagged = {r.record_id: (r.p_value, r.q_value) for r in online.records}
        truth = {str(i): bool(j < 5) for j, i in enumerate(ten.ids)}
        print("online check of the 10 records (id, member?, p, q):", [(k, truth[k], round(p, 4), round(q, 4)) for k, (p, q) in flagged.items()])

        if args.cpu_seconds:
            from dataclasses import replace

            sequential = replace(inputs.reference, backend="sequential", store=f"{scratch}/sequential-store")
            started, cpu = time.perf_counter(), time.process_time()
            check_records(inputs.target, data, ten, mode="online", **{**common, "reference": sequential})
            print(f"online check, sequential backend, 1 thread: {time.process_time() - cpu:.0f} CPU s "
                  f"({time.perf_counter() - started:.0f} s wall); on 2 idle cores about half that", flush=True)
        if args.calibration:
            taken = set(map(str, ten.ids))
            free = np.array([i for i in data.nonmembers if str(data.records.ids[i]) not in taken])
            held = data.records.subset(np.sort(rng.choice(free, 800, replace=False)))
            started = time.perf_counter()
            cal = check_records(inputs.target, data, held, mode="online", **common)
            p = np.array([r.p_value for r in cal.records])
            print(f"calibration: {len(p)} non-members checked online against {cal.n_null['real']:,} null records: KS p = "
                  f"{stats.kstest(p, 'uniform').pvalue:.3g}, FPR at 0.05 = {np.mean(p <= 0.05):.3f} "
                  f"(bound α + 3σ = {0.05 + 3 * np.sqrt(0.05 * 0.95 / len(p)):.3f}); {time.perf_counter() - started:.0f} s", flush=True)
        print("\n| check | attack | power at α = 0.05 [95 % CI] | n members | n null | reference models | seconds |\n|---|---|---:|---:|---:|---|---:|")
        print("\n".join(rows))


if __name__ == "__main__":  # reference models train in worker processes
    main()
