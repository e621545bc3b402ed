"""Label-only attacks on the demo's overfit MLP (Adult): queries needed per attack for a given TPR at 1 % FPR.

Run from the repository root::

    .venv/bin/python benchmarks/bench_label_only.py                         # trains the demo models (~1 min), then ~4 min on 2 cores
    .venv/bin/python benchmarks/bench_label_only.py --write BENCHMARKS.md   # and replace its "label-only" section
    .venv/bin/python benchmarks/bench_label_only.py --demo-dir DIR          # reuse a `privaudit demo --reference-models 0 --out DIR`

The target is the demo's ``overfit_mlp`` (2 × 512 ReLU, 1,000 Adult members, 10,000 non-members),
behind ``output_defence: {labels_only: true}``. Each row is one :func:`privaudit.audit` of it with
one attack, through the same path a config takes (the query signals ask the target in batches and
count every row); the baseline is the LOSS attack on the same model with its full confidence.

* ``label_only_augmentation``: ``k`` copies per record (``k`` queries each), categorical values
  flipped with probability 0.1 (the default), and one row with numeric noise σ = 0.1 as well;
* ``label_only_boundary``: budgets of 25, 64 (default) and 128 queries per record (directions
  2, 6 and 12; 6 bisection steps per line).

``--write PATH`` replaces the part of PATH between the ``label-only`` markers (or appends it),
leaving the rest of the file alone.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from _sections import replace_section  # noqa: E402  (benchmarks/ is the script folder)

BEGIN = "<!-- label-only: written by benchmarks/bench_label_only.py; edits between these markers are replaced -->"
END = "<!-- /label-only -->"

TARGET = "overfit_mlp"

#: (label, attack spec) — budgets rise within each attack
SETTINGS = [
    ("augmentation, k = 5", {"name": "label_only_augmentation", "k": 5}),
    ("augmentation, k = 10 (default)", {"name": "label_only_augmentation", "k": 10}),
    ("augmentation, k = 20", {"name": "label_only_augmentation", "k": 20}),
    ("augmentation, k = 50", {"name": "label_only_augmentation", "k": 50}),
    ("augmentation, k = 10, numeric noise σ = 0.1", {"name": "label_only_augmentation", "k": 10, "sigma": 0.1}),
    ("boundary, Q = 25 (2 lines)", {"name": "label_only_boundary", "queries_per_record": 25, "directions": 2}),
    ("boundary, Q = 64 (default, 6 lines)", {"name": "label_only_boundary", "queries_per_record": 64}),
    ("boundary, Q = 128 (12 lines)", {"name": "label_only_boundary", "queries_per_record": 128, "directions": 12}),
]


def load_demo(demo_dir: Path, seed: int, say):
    """The demo's data and overfit MLP (trained into ``demo_dir`` unless a config is there already)."""
    from privaudit.config import load_config
    from privaudit.data import load_audit_data
    from privaudit.demo import prepare_demo
    from privaudit.targets import load_target

    config_path = demo_dir / "config.yaml"
    if not config_path.is_file():
        say(f"training the demo models into {demo_dir} …")
        prepare_demo(demo_dir, seed=seed, reference_models=0, progress=say)
    config, base = load_config(config_path)
    d = config.data
    data = load_audit_data(base / d.path, label=d.label, id_column=d.id_column, features=d.features,
                           membership_column=d.membership.column, classes=d.classes)
    spec = next(t for t in config.targets if t.name == TARGET).model_dump()
    spec["output_defence"] = None
    plain = load_target(spec, base, TARGET)
    labels_only = load_target({**spec, "output_defence": {"labels_only": True}}, base, TARGET)
    return data, plain, labels_only


def run_one(data, target, attack, seed: int, n_bootstrap: int) -> dict:
    import privaudit

    started = time.perf_counter()
    result = privaudit.audit(data, [target], [attack], fprs=[0.1, 0.01, 0.001], n_bootstrap=n_bootstrap, seed=seed)
    seconds = time.perf_counter() - started
    r = result.results[0]
    queries = result.targets[0].queries
    extra = [v for k, v in queries.by_source.items() if k != "outputs"]
    radius = r.scores.max()
    at_top = r.scores == radius  # boundary: records with no label change within max_radius (all tie there)
    return {
        "attack": r.attack, "metrics": r.metrics, "seconds": seconds, "top_share": float(at_top.mean()),
        "top_share_members": float(at_top[result.is_member].mean()),
        "per_record": extra[0]["per_record"] if extra else 0.0, "max_per_record": extra[0]["max_per_record"] if extra else 0,
        "total": queries.total,
    }


def _rate(op) -> str:
    return f"{100 * op.tpr:.1f} % [{100 * op.ci[0]:.1f}, {100 * op.ci[1]:.1f}]"


def render(args, rows, baselines, machine) -> str:
    loss, gap = baselines
    lines = [
        BEGIN,
        "# Benchmarks: label-only attacks",
        "",
        f"Measured {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M')} UTC with",
        "",
        "```",
        ".venv/bin/python benchmarks/bench_label_only.py --write BENCHMARKS.md",
        "```",
        "",
        "## Machine",
        "",
        f"- CPUs: {machine['cpus']} ({platform.machine()}, {platform.platform()}); load average at start: {machine['load']}",
        f"- Python {platform.python_version()}, numpy {machine['numpy']}, torch {machine['torch']}",
        "",
        "## Queries needed per attack for a given TPR @ 1 % FPR",
        "",
        f"Demo target `{TARGET}` (2 × 512 MLP, train accuracy 100 %, test ≈ 81.5 %) behind `output_defence: {{labels_only: true}}`; "
        f"1,000 members vs 10,000 non-members, seed {args.seed}, {args.bootstrap} bootstrap replicates (95 % CIs). "
        "Queries per record: rows the target answered per audited record for the attack's signal, beyond the one plain query "
        "every audit makes (mean over the 11,000 records; misclassified records get no boundary search).",
        "",
        "| attack | outputs seen | queries / record (mean, max) | AUC | TPR @ 1 % FPR | TPR @ 10 % FPR | seconds |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]

    def row(label, outputs, r):
        m = r["metrics"]
        budget = "1" if r["per_record"] == 0 else f"{r['per_record']:.1f}, {r['max_per_record']}"
        return (f"| {label} | {outputs} | {budget} | {m.auc:.3f} [{m.auc_ci[0]:.3f}, {m.auc_ci[1]:.3f}] | "
                f"{_rate(m.operating_points[0.01])} | {_rate(m.operating_points[0.1])} | {r['seconds']:.1f} |")

    lines.append(row("LOSS (baseline)", "full confidence", loss))
    lines.append(row("correctness (gap attack)", "labels only", gap))
    for label, r in rows:
        lines.append(row(label, "labels only", r))
    target_tpr = loss["metrics"].operating_points[0.01].tpr
    reached = []
    for family in ("augmentation", "boundary"):
        hits = [(r["per_record"], label) for label, r in rows if label.startswith(family) and r["metrics"].operating_points[0.01].tpr >= target_tpr]
        reached.append(f"{family}: " + (f"{min(hits)[0]:.0f} queries per record ({min(hits)[1]})" if hits else "not within the budgets tried"))
    best = max(rows, key=lambda item: item[1]["metrics"].auc)
    lines += [
        "",
        f"Queries per record to match LOSS's TPR at 1 % FPR with full confidence ({100 * target_tpr:.1f} %): " + "; ".join(reached) + ".",
        f"Best label-only AUC: {best[0]}, {best[1]['metrics'].auc:.3f} against LOSS {loss['metrics'].auc:.3f} with full confidence "
        f"and {gap['metrics'].auc:.3f} for the gap attack.",
        "",
        "## Notes",
        "",
        "- Every row is a whole `privaudit.audit` of the label-only target (query, perturb, query again in batches, score, "
        "bootstrap); seconds include the plain query and the metrics. The machine is shared (see the load average).",
        "- **Ties at the top.** A threshold cannot flag 1 % (or 10 %) of non-members when more of them than that share "
        "the highest score, so TPR at that FPR reads 0 whatever the AUC. The augmentation score takes k + 1 values and "
        "most records keep their label in every copy (top value: " + "; ".join(
            f"{100 * r['top_share']:.0f} % of records, {100 * r['top_share_members']:.0f} % of members at {label.split(',')[1].strip()}"
            for label, r in rows if label.startswith("augmentation") and "noise" not in label) + "). "
        "The boundary distance is continuous below `max_radius`, but records with no label change within it all score "
        "`max_radius` (" + "; ".join(
            f"{100 * r['top_share']:.0f} % of records, {100 * r['top_share_members']:.0f} % of members at {label.split(',')[1].split('(')[0].strip()}"
            for label, r in rows if label.startswith("boundary")) + ").",
        "- On this model numeric noise and the numeric boundary search point the *wrong* way among correctly classified "
        "records: the demo encodes age, education, capital gain/loss and hours as one-hot categories and fnlwgt in 200 "
        "quantile bins, so the MLP memorises its members on exact values, and moving a member's numbers (even by 0.1 "
        "standard deviation) undoes the memorisation sooner than it changes a non-member the model gets right for general "
        "reasons. Flipping categorical values, as the paper does for tabular data, keeps the members' memorised values and "
        "shows the robustness gap; that is why the augmentation attack flips categories only by default.",
        END,
    ]
    return "\n".join(lines)


def write_section(path: Path, section: str) -> None:
    """Replace this benchmark's marked section of ``path`` with ``section`` (or append it)."""
    replace_section(path, section, BEGIN, END)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--demo-dir", type=Path, help="folder of `privaudit demo --reference-models 0` (trained there if missing; default: a temporary folder)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bootstrap", type=int, default=1000, help="bootstrap replicates for the AUC intervals (default 1,000)")
    parser.add_argument("--only", nargs="*", help="run only settings whose label starts with one of these words (e.g. boundary)")
    parser.add_argument("--write", metavar="PATH", help="replace the label-only section of PATH (e.g. BENCHMARKS.md)")
    args = parser.parse_args(argv)

    import numpy as np
    import torch

    say = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    machine = {"cpus": os.cpu_count(), "load": ", ".join(f"{x:.2f}" for x in os.getloadavg()), "numpy": np.__version__, "torch": torch.__version__}
    with tempfile.TemporaryDirectory() as scratch:
        demo_dir = args.demo_dir or Path(scratch) / "demo"
        data, plain, labels_only = load_demo(demo_dir, args.seed, say)
        say("LOSS with full confidence …")
        loss = run_one(data, plain, "loss", args.seed, args.bootstrap)
        say("correctness …")
        gap = run_one(data, labels_only, "correctness", args.seed, args.bootstrap)
        rows = []
        for label, spec in SETTINGS:
            if args.only and not any(label.startswith(word) for word in args.only):
                continue
            say(f"{label} …")
            rows.append((label, run_one(data, labels_only, spec, args.seed, args.bootstrap)))
            say(f"  AUC {rows[-1][1]['metrics'].auc:.3f}, {rows[-1][1]['per_record']:.1f} queries per record, {rows[-1][1]['seconds']:.0f} s")
    text = render(args, rows, (loss, gap), machine)
    print(text)
    if args.write:
        write_section(Path(args.write), text)


if __name__ == "__main__":
    main()
