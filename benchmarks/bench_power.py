"""Attack power per model trained on the Adult demo's overfit MLP: LiRA's variance choice and QMIA (issue 16, scopes 4–5).

Run after ``privaudit demo --out FOLDER`` (the demo's 16 cached offline reference models are reused; the
online models are trained into ``FOLDER``'s store, so give a copy of a shared demo folder)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_power.py FOLDER                # both parts
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_power.py FOLDER --part online  # one part (or offline, qmia)
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_power.py FOLDER --part online --seed 1  # another draw, 30 new models

Two tables, each attack on the same records and the same reference models (one torch thread):

* **online** (LiRA's variance choice): the audit is the target's 1,000 members and a seeded sample of
  1,000 of its 10,000 non-members; for K = 2, 4, 8, 16 a new online design puts each of these 2,000 records IN
  a random half of K reference models trained like the target (each on 1,000 records, the target's size, with
  the target's recipe). Per K: LOSS, online LiRA with per-example, global and ``auto`` variance, online RMIA.
  The wall time of training the K models (batched-ensemble backend, one thread) gives the cost per model.
* **offline** (QMIA vs reference models): the demo's audit (1,000 members, 10,000 non-members) with its 16
  offline reference models (population records only): LOSS, offline LiRA (per-example, global, auto), offline
  RMIA (and offline LiRA per-example vs global with the first 2, 4 and 8 of the models), and QMIA with each
  of its models (gaussian, quantile; one regressor fitted on the 35,842 population records' target scores,
  features and labels; no reference model), with the regressor's fit time (the online part gives the
  training time of a reference model).

Every row gives AUC with its 95 % bootstrap interval and TPR at 1 % and 0.1 % FPR with 95 % Clopper–Pearson
intervals; n members / non-members are printed above each table.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

ONLINE_MODELS = (2, 4, 8, 16)
N_NONMEMBERS_ONLINE = 1000


def _name(attack, r) -> str:
    """The result's display name, with LiRA's variance parameter when it was ``auto`` (the name shows what ran)."""
    return r.attack + (" (variance: auto)" if getattr(attack, "variance", None) == "auto" else "")


def _row(label: str, r, extra: str = "", name: str | None = None) -> str:
    cells = []
    for fpr in (0.01, 0.001):
        op = r.metrics.operating_points[fpr]
        cells.append(f"{op.tpr:.1%} [{op.ci[0]:.1%}, {op.ci[1]:.1%}]")
    low, high = r.metrics.auc_ci
    return f"| {label} | {name or r.attack} | {r.metrics.auc:.3f} [{low:.3f}, {high:.3f}] | {cells[0]} | {cells[1]} |{extra}"


def _load(folder: str):
    from privaudit.config import load_config
    from privaudit.data import load_audit_data
    from privaudit.reference.plan import plans_from_config
    from privaudit.targets import load_target

    config, base = load_config(Path(folder) / "config.yaml")
    d, m = config.data, config.data.membership
    data = load_audit_data(base / d.path, label=d.label, id_column=d.id_column, features=d.features, membership_column=m.column, classes=d.classes)
    spec = next(t for t in config.targets if t.name == "overfit_mlp")
    target = load_target(spec.model_dump(), base, spec.name)
    return config, data, target, plans_from_config(config, base)["overfit_mlp"]


def online_part(folder: str, seed: int) -> None:
    import numpy as np

    from privaudit.attacks import build_attack
    from privaudit.data import AuditData
    from privaudit.pipeline import audit

    config, data, target, plan = _load(folder)
    rng = np.random.default_rng([seed, 16])
    nonmembers = np.sort(rng.choice(data.nonmembers, N_NONMEMBERS_ONLINE, replace=False))
    small = AuditData(data.records, data.members, nonmembers, data.population, source=data.source)
    print(f"\nonline: {small.members.size:,} members, {small.nonmembers.size:,} non-members (seeded sample), "
          f"{small.population.size:,} population records (RMIA's z, OUT of every model)")
    print("| models | attack | AUC [95 % CI] | TPR @ 1 % FPR [95 % CI] | TPR @ 0.1 % FPR [95 % CI] | training s (per model) |")
    print("|---:|---|---:|---:|---:|---:|")
    for k in ONLINE_MODELS:
        online = replace(plan, n_models=k, mode="online", train_size=small.members.size, include_population=False, backend="ensemble", n_jobs=1)
        attacks = [build_attack("loss")] if k == ONLINE_MODELS[0] else []
        attacks += [build_attack({"name": "lira", "mode": "online", "variance": v}) for v in ("per_example", "global", "auto")]
        attacks += [build_attack({"name": "rmia", "mode": "online"})]
        started = time.perf_counter()
        result = audit(small, [target], attacks, n_bootstrap=200, seed=config.seed, reference=online)
        seconds = time.perf_counter() - started
        info = result.reference["overfit_mlp"]
        cost = f" {seconds:.0f} ({seconds / k:.1f}) |" if info["trained"] == k else f" reused {info['reused']} |"
        for attack, r in zip(attacks, result.results, strict=True):
            print(_row("—" if r.attack.startswith("threshold") else str(k), r, cost, _name(attack, r)), flush=True)


def offline_part(folder: str) -> None:
    from privaudit.attacks import build_attack
    from privaudit.pipeline import audit

    config, data, target, plan = _load(folder)
    print(f"\noffline: {data.members.size:,} members, {data.nonmembers.size:,} non-members, {data.population.size:,} population records")
    print("| models | attack | AUC [95 % CI] | TPR @ 1 % FPR [95 % CI] | TPR @ 0.1 % FPR [95 % CI] | fit s |")
    print("|---:|---|---:|---:|---:|---:|")
    attacks = [build_attack("loss")]
    attacks += [build_attack({"name": "lira", "mode": "offline", "variance": v}) for v in ("per_example", "global", "auto")]
    attacks += [build_attack({"name": "rmia", "mode": "offline"})]
    result = audit(data, [target], attacks, n_bootstrap=200, seed=config.seed, reference=plan)
    for attack, r in zip(attacks, result.results, strict=True):
        print(_row("—" if r.attack.startswith("threshold") else str(plan.n_models), r, " |", _name(attack, r)), flush=True)
    for k in (2, 4, 8):  # LiRA's variance with fewer OUT models per record: the demo's first k models (the offline design nests)
        variants = [build_attack({"name": "lira", "mode": "offline", "variance": v}) for v in ("per_example", "global")]
        fewer = audit(data, [target], variants, n_bootstrap=200, seed=config.seed, reference=replace(plan, n_models=k))
        for r in fewer.results:
            print(_row(str(k), r, " |"), flush=True)
    qmia_part(folder)


def qmia_part(folder: str) -> None:
    """QMIA on the offline part's records: the gaussian model (default, the authors' tabular code) and the pinball quantile model."""
    from privaudit.attacks import build_attack
    from privaudit.pipeline import audit

    config, data, target, _ = _load(folder)
    for model in ("gaussian", "quantile"):  # α = 1 %, the hinge score (logit_confidence, equal to it for two classes)
        qmia = build_attack({"name": "qmia", "model": model})
        started = time.perf_counter()
        result = audit(data, [target], [qmia], n_bootstrap=200, seed=config.seed)
        seconds = time.perf_counter() - started
        print(_row("0 (1 regressor)", result.results[0], f" {qmia.fit_seconds_:.1f} (whole audit {seconds:.0f}) |"), flush=True)
        print(f"QMIA {model}: fitted on {qmia.n_population_:,} population records ({qmia.n_population_ - qmia.n_population_ // 5:,} for the "
              f"regressor, {qmia.n_population_ // 5:,} for the conformal shift {qmia.conformal_shift_:.3f}), {qmia.regressor_.n_iter_} boosting rounds")


def main() -> None:
    import torch

    torch.set_num_threads(1)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", help="a demo folder (privaudit demo --out); its reference store receives the online models")
    parser.add_argument("--part", choices=("online", "offline", "qmia", "both"), default="both", help="qmia: only the QMIA rows of the offline part")
    parser.add_argument("--seed", type=int, default=0, help="seed of the non-member sample of the online part")
    args = parser.parse_args()
    if args.part in ("offline", "both"):
        offline_part(args.folder)
    if args.part == "qmia":
        qmia_part(args.folder)
    if args.part in ("online", "both"):
        online_part(args.folder, args.seed)


if __name__ == "__main__":
    main()
