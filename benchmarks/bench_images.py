"""The image demo at full size: AUC and TPR at 1 % / 0.1 % FPR of every attack, side by side, with 95 % CIs.

Run from the repository root (needs ``apt-get install dataset-fashion-mnist``)::

    .venv/bin/python benchmarks/bench_images.py                          # trains the demo (CNN + 12 reference models) and audits it
    .venv/bin/python benchmarks/bench_images.py --out DIR                 # keep the demo folder (a rerun reuses its stored reference models)
    .venv/bin/python benchmarks/bench_images.py --write BENCHMARKS.md     # and replace its "Image demo" section

One run of :func:`privaudit.image_demo.run_image_demo` (seed 0): a CNN overfit on 1,000
Fashion-MNIST images, audited on those members against 11,000 non-members (so TPR at 0.1 % FPR
rests on 11 false positives), with 12 reference models trained like it (online design, each
audited image IN one model; the offline forms use the 11 OUT models of each image). The attacks
are the demo's: LOSS, LiRA online and offline (global variance) without and — when the attacks
accept ``augment`` — with augmented queries (mirror and 1-pixel shifts, Q = 18), RMIA online
and offline, and QMIA when it is registered. Every figure comes from the audit's report.json
(bootstrap CI for the AUC, Clopper–Pearson for TPRs).

``--write PATH`` replaces the part of PATH between the ``images`` markers (or appends it).
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import tempfile
import time
from pathlib import Path

from _sections import cpu_line, replace_section  # noqa: E402  (benchmarks/ is the script folder)

BEGIN = "<!-- images: written by benchmarks/bench_images.py; edits between these markers are replaced -->"
END = "<!-- /images -->"


def _percent(value: float, ci) -> str:
    return f"{100 * value:.1f} % [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]"


def _row(result: dict) -> str:
    tpr = result["tpr_at_fpr"]
    cells = [f"`{result['attack']}`", f"{result['auc']:.3f} [{result['auc_ci'][0]:.3f}, {result['auc_ci'][1]:.3f}]"]
    for fpr in ("0.01", "0.001"):
        entry = tpr[fpr]
        cells.append(_percent(entry["tpr"], entry["ci"]) + f" ({entry['false_positives']} FP)")
    return "| " + " | ".join(cells) + " |"


def _augmented_comparison(results: dict) -> list[str]:
    """For each LiRA form: TPR at 0.1 % FPR without and with augmentations, and what the CIs allow one to say."""
    lines = []
    for plain, augmented in ((a, b) for a in results for b in results if b.startswith(a[:-1] + ",aug=")):
        p, q = results[plain]["tpr_at_fpr"]["0.001"], results[augmented]["tpr_at_fpr"]["0.001"]
        relation = "above" if q["tpr"] > p["tpr"] else ("equal to" if q["tpr"] == p["tpr"] else "below")
        overlap = q["ci"][0] <= p["ci"][1] and p["ci"][0] <= q["ci"][1]
        lines.append(f"- `{augmented}` vs `{plain}` at 0.1 % FPR: {_percent(q['tpr'], q['ci'])} vs {_percent(p['tpr'], p['ci'])} — "
                     f"augmented {relation} plain" + ("; the 95 % intervals overlap, so this one run does not separate them" if overlap else
                                                      "; the 95 % intervals do not overlap"))
    return lines or ["- no augmented LiRA in this run: this privaudit's attacks do not accept `augment`"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="demo folder (default: a temporary one)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--write", type=Path, default=None, help="replace the images section of this file")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    from privaudit.image_demo import run_image_demo

    started = datetime.datetime.now(datetime.timezone.utc)
    cpus = cpu_line()
    with tempfile.TemporaryDirectory() as scratch:
        out = args.out or Path(scratch) / "privaudit-image-demo"
        clock = time.perf_counter()
        run_image_demo(out, seed=args.seed, progress=lambda line: print(f"· {line}", file=sys.stderr), force=args.out is not None and out.exists())
        seconds = time.perf_counter() - clock
        report = json.loads((out / "report.json").read_text())
        training = json.loads((out / "models/training.json").read_text())
    results = {r["attack"]: r for r in report["results"]}
    first = next(iter(results.values()))
    reference = report["run"]["reference"]["cnn"]
    queries = report["targets"][0]["queries"]
    lines = [
        BEGIN,
        "## Image demo (Fashion-MNIST CNN): LOSS, LiRA with and without augmented queries, RMIA, QMIA",
        "",
        f"`benchmarks/bench_images.py` (seed {args.seed}, {started:%Y-%m-%d %H:%M} UTC): `privaudit demo --images` at full size, "
        f"{first['n_members']:,} members vs {first['n_nonmembers']:,} non-members, {report['data']['n_population']:,} "
        f"population records; {reference['n_models']} reference models ({reference['choice']}; backend {reference['backend']}). "
        f"The CNN's accuracy: {training['accuracy']['members']:.1%} on members, {training['accuracy']['nonmembers']:.1%} on non-members. "
        f"Whole run (data, target, reference models, audit, report): {seconds / 60:.1f} min, "
        f"{reference['trained']} reference models trained and {reference['reused']} reused from the store.",
        cpus,
        f"- Queries to the target: {queries['total']:,} ({queries['per_record']:.1f} per audited or population record).",
        "",
        "| attack | AUC [95 % CI] | TPR at 1 % FPR [95 % CI] | TPR at 0.1 % FPR [95 % CI] |",
        "|---|---|---|---|",
        *[_row(result) for result in results.values()],
        "",
        "LiRA with augmentations against LiRA without, at 0.1 % FPR (the issue's done-when):",
        "",
        *_augmented_comparison(results),
        "",
        "What the numbers mean: docs/claims.md, \"Image demo\". One seed, one target: the CIs are over records, not over training runs.",
        END,
    ]
    section = "\n".join(lines)
    print(section)
    if args.write:
        replace_section(args.write, section, BEGIN, END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
