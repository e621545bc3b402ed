"""Reference attacks on the Adult demo target with 1, 2, 4, 8 and 16 offline reference models.

Reuses the demo's cached reference models (the offline design draws model k's
training records the same way whatever the number of models, so the first k
models of a 16-model run are the models of a k-model run), so after
``privaudit demo --out DIR`` this only queries and scores::

    .venv/bin/python benchmarks/demo_reference_attacks.py privaudit-demo

Prints, per model count, AUC and TPR at 1 % and 0.1 % FPR (with Clopper–Pearson
95 % CIs) of LOSS, offline LiRA and offline RMIA on the overfit target.
"""

from __future__ import annotations

import sys
from pathlib import Path


def main(folder: str) -> None:
    from dataclasses import replace

    from privaudit.attacks import build_attack
    from privaudit.pipeline import audit
    from privaudit.config import load_config
    from privaudit.data import load_audit_data
    from privaudit.reference.plan import plans_from_config
    from privaudit.targets import load_target

    config, base = load_config(Path(folder) / "config.yaml")
    d, m = config.data, config.data.membership
    data = load_audit_data(base / d.path, label=d.label, id_column=d.id_column, features=d.features, membership_column=m.column, classes=d.classes)
    spec = next(t for t in config.targets if t.name == "overfit_mlp")
    target = load_target(spec.model_dump(), base, spec.name)
    plan16 = plans_from_config(config, base)["overfit_mlp"]

    print("| models | attack | AUC | TPR @ 1 % FPR [95 % CI] | TPR @ 0.1 % FPR [95 % CI] |")
    print("|---:|---|---:|---:|---:|")
    tuned_a = None
    for n_models in (2, 1, 4, 8, 16):
        lira = build_attack({"name": "lira", "mode": "offline"})
        # one model cannot tune a (tuning holds one model out as the target): use the 2-model run's a
        rmia = build_attack({"name": "rmia", "mode": "offline", "offline_a": tuned_a if n_models == 1 else None})
        attacks = ([build_attack("loss")] if n_models == 2 else []) + [lira, rmia]
        result = audit(data, [target], attacks, n_bootstrap=200, seed=config.seed, reference=replace(plan16, n_models=n_models))
        if n_models == 2:
            tuned_a = rmia.offline_a_
        for r in result.results:
            cells = []
            for fpr in (0.01, 0.001):
                op = r.metrics.operating_points[fpr]
                cells.append(f"{op.tpr:.1%} [{op.ci[0]:.1%}, {op.ci[1]:.1%}]")
            label = r.attack + (f" (a = {rmia.offline_a_:.2f})" if r.attack.startswith("rmia") else "")
            print(f"| {n_models if not r.attack.startswith('threshold') else '—'} | {label} | {r.metrics.auc:.3f} | {cells[0]} | {cells[1]} |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "privaudit-demo")
