"""DP-SGD (Opacus) training time against non-private training of the same model on the same data.

Run from the repository root::

    .venv/bin/python benchmarks/bench_dp.py                                            # ~1 min on 2 cores
    .venv/bin/python benchmarks/bench_dp.py --accountants rdp prv gdp --write BENCHMARKS.md  # ~2 min; replace its "dp-training" section

For each architecture (the demo's two MLPs by default: ``build_mlp`` hidden [64] and [512, 512]) on
``--members`` Adult records in the demo encoding, one thread, best of ``--repeats``:

* non-private :func:`privaudit.models.train_classifier` (Adam, shuffled minibatches of ``--batch-size``);
* the same call with ``TrainingConfig.dp`` = DPConfig(``--epsilon``, ``--delta``) for each accountant in
  ``--accountants`` and Adam's step ``--dp-learning-rate`` (Opacus: Poisson sampling at rate batch/n,
  per-record clipping, Gaussian noise; the time includes Opacus' set-up and the search for the noise
  multiplier, which is also timed alone).

Each row also gives the accountant's final ε and noise multiplier, test accuracy on ``--members`` other
Adult records, and the LOSS attack's AUC, members against those records. The ratio column is DP time
over non-private time of the same architecture in this run.

``--write PATH`` replaces the part of PATH between the ``dp-training`` markers (or appends it),
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
import time
from pathlib import Path

import numpy as np
from _sections import cpu_line, replace_section  # noqa: E402  (benchmarks/ is the script folder)

BEGIN = "<!-- dp-training: written by benchmarks/bench_dp.py; edits between these markers are replaced -->"
END = "<!-- /dp-training -->"


def adult_split(n_members: int, seed: int):
    """``2 × n_members`` Adult records: encoded members and held-out records, labels, as audit data too."""
    import pandas as pd

    from privaudit.data import audit_data_from_frame
    from privaudit.datasets import load_adult
    from privaudit.datasets.adult import ADULT_CATEGORICAL, ADULT_LABEL, ADULT_NUMERIC
    from privaudit.demo import make_adult_encoder

    frame = load_adult()
    rows = np.random.default_rng(seed).choice(len(frame), 2 * n_members, replace=False)
    frame = frame.iloc[rows].reset_index(drop=True)
    features = frame[ADULT_NUMERIC + ADULT_CATEGORICAL]
    encoder = make_adult_encoder().fit(features.iloc[:n_members])
    encoded = np.asarray(encoder.transform(features), dtype=np.float32)
    labels = (frame[ADULT_LABEL] == ">50K").to_numpy().astype(np.int64)
    table = pd.DataFrame(encoded, columns=[f"e{i}" for i in range(encoded.shape[1])])
    table["record_id"] = frame["record_id"].astype(str).to_numpy()
    table["label"] = labels
    table["split"] = ["member"] * n_members + ["nonmember"] * n_members
    data = audit_data_from_frame(table, label="label", id_column="record_id", membership_column="split", classes=[0, 1])
    return encoded, labels, data


def run_one(hidden: list[int], encoded: np.ndarray, labels: np.ndarray, data, n_members: int, training, repeats: int, seed: int) -> dict:
    """Best-of-``repeats`` training time of one configuration, and what the last model does."""
    import torch

    from privaudit.pipeline import audit
    from privaudit.models import build_mlp, train_classifier
    from privaudit.targets import TorchTarget

    times, info, module = [], None, None
    for _ in range(repeats):
        if training.dp is not None:
            from privaudit.models import _noise_multiplier

            _noise_multiplier.cache_clear()  # every timed run searches σ, as one fresh training would
        torch.manual_seed(seed)
        module = build_mlp(encoded.shape[1], 2, hidden=hidden)
        begun = time.perf_counter()
        info = train_classifier(module, encoded[:n_members], labels[:n_members], training, seed=seed)
        times.append(time.perf_counter() - begun)
    search = 0.0
    if training.dp is not None:  # the accountant's search for σ, timed alone (privaudit caches it: only the first repeat pays it)
        from privaudit.models import _noise_multiplier, noise_multiplier

        _noise_multiplier.cache_clear()
        begun = time.perf_counter()
        noise_multiplier(training.dp, sample_rate=1.0 / math.ceil(n_members / training.batch_size), epochs=training.epochs)
        search = time.perf_counter() - begun
        _noise_multiplier.cache_clear()
    with torch.no_grad():
        predicted = module(torch.from_numpy(encoded[n_members:])).argmax(1).numpy()
    result = audit(data, [TorchTarget(module, name="bench")], ["loss"], n_bootstrap=50, seed=seed)
    return {"seconds": min(times), "search": search, "info": info, "test_accuracy": float((predicted == labels[n_members:]).mean()),
            "train_accuracy": result.targets[0].accuracy_members, "auc": result.results[0].metrics.auc}


def machine_info(torch_version: str, opacus_version: str) -> str:
    return (
        cpu_line() + "\n"
        f"- Python {platform.python_version()}, numpy {np.__version__}, torch {torch_version}, opacus {opacus_version}; one torch thread"
    )


def render(args, machine: str, rows: list[dict]) -> str:
    command = shlex.join([os.path.relpath(sys.executable), *sys.argv])
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        BEGIN,
        "# Benchmarks: DP-SGD training",
        "",
        f"Measured {now} with",
        "",
        "```",
        command,
        "```",
        "",
        "## Machine",
        "",
        machine,
        "",
        f"## DP-SGD vs non-private training ({args.members:,} Adult members, demo encoding; {args.epochs} epochs, batch {args.batch_size}, "
        f"Adam lr {args.learning_rate:g}, under DP {args.dp_learning_rate:g}; DP target ε = {args.epsilon:g}, δ = {args.delta:g}, clip norm {args.max_grad_norm:g}; "
        f"best of {args.repeats})",
        "",
        "| build_mlp hidden | training | seconds | × non-private | of which σ search | loop × non-private | ε spent | noise σ | train acc. | test acc. | LOSS AUC |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    baseline = {}
    for row in rows:
        dp = row["info"]["dp"]
        key = str(row["hidden"])
        if dp is None:
            baseline[key] = row["seconds"]
        ratio = row["seconds"] / baseline[key]
        loop = (row["seconds"] - row["search"]) / baseline[key]
        search = "—" if dp is None else f"{row['search']:.2f}"
        spent = "—" if dp is None else f"{dp['epsilon']:.3f}"
        sigma = "—" if dp is None else f"{dp['noise_multiplier']:.3f}"
        lines.append(
            f"| {row['hidden']} | {row['label']} | {row['seconds']:.2f} | {ratio:.1f} | {search} | {loop:.1f} | {spent} | {sigma} | "
            f"{row['train_accuracy']:.3f} | {row['test_accuracy']:.3f} | {row['auc']:.3f} |"
        )
    lines += [
        "",
        "## Notes",
        "",
        "- Same data, architecture, initial weights, optimiser and epochs on both sides (the step size does not change the",
        "  time; DP-SGD gets a larger one, without which its noisy steps leave a majority-class model); DP-SGD adds",
        "  per-record gradient norms and clipping (Opacus ghost clipping: no per-record gradients are stored), noise and",
        "  Poisson-sampled minibatches (expected size = batch). Its time includes Opacus' set-up and the accountant's",
        "  search for σ, which is also timed alone (\"of which σ search\"; it does not grow with the model);",
        "  \"loop × non-private\" leaves it out (not the final ε, which the `prv` accountant also takes seconds to compute).",
        "- ε spent is the accountant's figure after every step (≤ the target); `gdp` can underestimate ε (Opacus warns),",
        "  `rdp` is the default. Test accuracy on as many other Adult records; LOSS AUC members against them",
        "  (about 0.5 = no measurable leakage).",
        "- The machine is shared: other jobs may run alongside (see the load average); rows run one after another in one process.",
        END,
    ]
    return "\n".join(lines)


def write_section(path: Path, section: str) -> None:
    """Replace this benchmark's marked section of ``path`` with ``section`` (or append it)."""
    replace_section(path, section, BEGIN, END)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--members", type=int, default=1000, help="Adult training records (and as many test records); default 1,000 as in the demo")
    parser.add_argument("--hidden", type=str, nargs="+", default=["64", "512,512"], help="build_mlp hidden widths per architecture, comma-separated (default: 64 and 512,512)")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=1e-3, help="Adam's step, non-private (default 1e-3, the demo's)")
    parser.add_argument("--dp-learning-rate", type=float, default=1e-2, help="Adam's step under DP-SGD (default 1e-2: at 1e-3 the noisy steps leave a majority-class model)")
    parser.add_argument("--epsilon", type=float, default=8.0)
    parser.add_argument("--delta", type=float, default=1e-5)
    parser.add_argument("--max-grad-norm", type=float, default=1.0)
    parser.add_argument("--accountants", nargs="+", default=["rdp"], choices=["rdp", "prv", "gdp"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--write", metavar="PATH", help="replace the dp-training section of PATH (e.g. BENCHMARKS.md)")
    args = parser.parse_args(argv)

    import opacus
    import torch

    from privaudit.models import DPConfig, TrainingConfig

    torch.set_num_threads(1)
    machine = machine_info(torch.__version__, opacus.__version__)
    say = lambda message: print(message, file=sys.stderr)  # noqa: E731
    say("data …")
    encoded, labels, data = adult_split(args.members, args.seed)
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])  # first use of torch.optim imports more of torch; not part of either time
    base = dict(epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate)
    rows = []
    for text in args.hidden:
        hidden = [int(h) for h in text.split(",")]
        configs = [("non-private", TrainingConfig(**base))]
        private = {**base, "learning_rate": args.dp_learning_rate}
        configs += [(f"DP-SGD ({name})", TrainingConfig(**private, dp=DPConfig(args.epsilon, args.delta, args.max_grad_norm, name))) for name in args.accountants]
        for label, training in configs:
            row = run_one(hidden, encoded, labels, data, args.members, training, args.repeats, args.seed)
            rows.append({"hidden": hidden, "label": label, **row})
            say(f"  {hidden} {label}: {row['seconds']:.2f} s, test acc. {row['test_accuracy']:.3f}, AUC {row['auc']:.3f}")
    text = render(args, machine, rows)
    print(text)
    if args.write:
        write_section(Path(args.write), text)


if __name__ == "__main__":
    main()
