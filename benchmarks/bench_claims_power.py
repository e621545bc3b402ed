"""The price of the corrected audit verdict: its power against the old uncorrected rule on the demo's targets.

Run from the repository root::

    .venv/bin/python benchmarks/bench_claims_power.py                        # runs `privaudit demo --reference-models 0` (~1–3 min) first
    .venv/bin/python benchmarks/bench_claims_power.py --demo-dir DIR         # reuse a `privaudit demo --reference-models 0 --out DIR`
    .venv/bin/python benchmarks/bench_claims_power.py --write BENCHMARKS.md  # and replace its "claims-power" section

From the demo's ``scores.csv`` (six threshold attacks per target on 1,000 Adult members and
10,000 non-members) each repeat draws ``n`` members and ``n`` non-members without replacement
and decides, on the same subsample:

* **corrected** (the verdict now): leakage detected when the max-T permutation test over the six
  attacks gives a smallest adjusted p ≤ 0.05 (1,999 relabellings); the grade it would print
  (weak / clear / severe, :func:`privaudit.metrics.grading.target_claim`);
* **uncorrected** (the old rule): the best attack by AUC, "leaks" when the lower end of its own
  95 % stratified bootstrap interval (1,000 replicates) exceeds 0.5.

Power = share of repeats that detect leakage, with its Monte-Carlo standard error
sqrt(p (1 − p) / repeats). Both rules see the same subsamples, so the difference is the price of
the correction. ``--write PATH`` replaces the part of PATH between the ``claims-power`` markers.
"""

from __future__ import annotations

import argparse
import datetime
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from _sections import cpu_line, replace_section  # noqa: E402  (benchmarks/ is the script folder)
from privaudit.metrics import bootstrap_auc, evaluate_scores
from privaudit.metrics.grading import target_claim

BEGIN = "<!-- claims-power: written by benchmarks/bench_claims_power.py; edits between these markers are replaced -->"
END = "<!-- /claims-power -->"
TARGETS = ("overfit_mlp", "regularised_mlp")


def demo_scores(demo_dir: Path | None) -> pd.DataFrame:
    """The demo's scores.csv, running the demo into a temporary folder when no folder is given."""
    if demo_dir is None:
        demo_dir = Path(tempfile.mkdtemp(prefix="privaudit-claims-power-")) / "demo"
        print(f"running privaudit demo --reference-models 0 into {demo_dir} ...", flush=True)
        subprocess.run([sys.executable, "-m", "privaudit.cli", "demo", "--out", str(demo_dir), "--reference-models", "0", "-q"],
                       check=True)
    return pd.read_csv(Path(demo_dir) / "scores.csv", dtype={"record_id": str})


def one_repeat(scores: np.ndarray, names: list[str], is_member: np.ndarray, seed: int) -> tuple[bool, str, bool]:
    """(corrected detects, corrected status, uncorrected detects) on one subsample; scores (K, n)."""
    metrics = [evaluate_scores(s, is_member, n_bootstrap=1, seed=seed, delta=None) for s in scores]
    claim = target_claim("t", names, scores, is_member, [m.operating_points for m in metrics], seed=seed)
    best = int(np.argmax([m.auc for m in metrics]))
    lower, _, _ = bootstrap_auc(scores[best], is_member, n_bootstrap=1000, seed=seed)
    return claim.detected, claim.status, lower > 0.5


def run(table: pd.DataFrame, sizes: list[int], repeats: int, seed: int) -> list[dict]:
    member = (table["membership"] == "member").to_numpy()
    members, nonmembers = np.flatnonzero(member), np.flatnonzero(~member)
    rows = []
    for target in TARGETS:
        columns = [c for c in table.columns if c.startswith(f"{target}/")]
        if not columns:
            continue
        all_scores = table[columns].to_numpy(dtype=np.float64).T
        names = [c.split("/", 1)[1] for c in columns]
        full = target_claim(target, names, all_scores, member,
                            [evaluate_scores(s, member, n_bootstrap=1, delta=None).operating_points for s in all_scores])
        print(f"{target}: full sample ({members.size:,} + {nonmembers.size:,}): {full.status}", flush=True)
        for n in sizes:
            rng = np.random.default_rng([seed, n])
            started = time.perf_counter()
            corrected, uncorrected, statuses = [], [], []
            for r in range(repeats):
                pick = np.r_[rng.choice(members, n, replace=False), rng.choice(nonmembers, n, replace=False)]
                is_member = np.r_[np.ones(n, bool), np.zeros(n, bool)]
                detected, status, old = one_repeat(all_scores[:, pick], names, is_member, seed=r)
                corrected.append(detected)
                uncorrected.append(old)
                statuses.append(status)
            p_new, p_old = float(np.mean(corrected)), float(np.mean(uncorrected))
            grades = {g: statuses.count(g) / repeats for g in ("none_detected", "weak", "clear", "severe")}
            row = {"target": target, "n": n, "repeats": repeats, "corrected": p_new, "uncorrected": p_old,
                   "se_corrected": np.sqrt(p_new * (1 - p_new) / repeats), "se_uncorrected": np.sqrt(p_old * (1 - p_old) / repeats),
                   "grades": grades, "full_status": full.status, "seconds": time.perf_counter() - started}
            rows.append(row)
            print(f"{target} n={n}+{n}: corrected {p_new:.3f} ± {row['se_corrected']:.3f}, uncorrected {p_old:.3f} ± "
                  f"{row['se_uncorrected']:.3f}; grades {grades} ({row['seconds']:.0f} s)", flush=True)
    return rows


def section(rows: list[dict], repeats: int) -> str:
    lines = [BEGIN, "", "### Power of the corrected audit verdict (demo targets, 6 threshold attacks)", "",
             f"- {datetime.date.today().isoformat()}, {repeats} subsamples per row, α = 0.05, seeded",
             cpu_line(), "",
             "| target | members + non-members | corrected (max-T over 6) | uncorrected (best by AUC, own CI) | grades printed (none / weak / clear / severe) |",
             "|---|---|---|---|---|"]
    for r in rows:
        g = r["grades"]
        lines.append(f"| {r['target']} (full sample: {r['full_status']}) | {r['n']:,} + {r['n']:,} | {r['corrected']:.3f} ± {r['se_corrected']:.3f} "
                     f"| {r['uncorrected']:.3f} ± {r['se_uncorrected']:.3f} | {g['none_detected']:.2f} / {g['weak']:.2f} / "
                     f"{g['clear']:.2f} / {g['severe']:.2f} |")
    lines += ["", "± is one Monte-Carlo standard error.", END]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--demo-dir", type=Path, default=None)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 200, 500])
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--write", type=Path, default=None)
    args = parser.parse_args()
    rows = run(demo_scores(args.demo_dir), args.sizes, args.repeats, args.seed)
    text = section(rows, args.repeats)
    print(text)
    if args.write is not None:
        replace_section(args.write, text, BEGIN, END)


if __name__ == "__main__":
    main()
