"""Which attack should ``privaudit check`` run by default? Its power per attack on the demo's targets.

Run from the repository root::

    .venv/bin/python benchmarks/bench_check_default.py                  # trains the demo targets (~1–3 min), then checks
    .venv/bin/python benchmarks/bench_check_default.py --seed 1         # another draw of members, non-members and training
    .venv/bin/python benchmarks/bench_check_default.py --reference-models 16   # adds offline RMIA (trains 16 models per target)

Power is what ``check`` reports: the share of the audit's 1,000 members whose real-null p-value
(against the 10,000 non-members) is ≤ α = 0.05, with its 95 % Clopper–Pearson interval. The rule in
:func:`privaudit.pipeline.strongest_check_attack` is read off these numbers (BENCHMARKS.md,
"Record check: default attack").
"""

from __future__ import annotations

import argparse
import tempfile
import time


def main() -> None:
    from privaudit.config import load_config
    from privaudit.demo import prepare_demo
    from privaudit.record_check import check_inputs, check_records

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--reference-models", type=int, default=0)
    args = parser.parse_args()
    attacks = ["loss", "logit_confidence", "confidence", "entropy", "modified_entropy",
               {"name": "classwise_threshold", "signal": "loss"}, {"name": "classwise_threshold", "signal": "logit_confidence"}]
    if args.reference_models:
        attacks.append({"name": "rmia", "mode": "offline"})
    with tempfile.TemporaryDirectory() as folder:
        config, base = load_config(prepare_demo(f"{folder}/demo", seed=args.seed, reference_models=args.reference_models))
        print("| target | attack | power at α = 0.05 [95 % CI] | seconds |\n|---|---|---:|---:|")
        for target in ("overfit_mlp", "regularised_mlp"):
            inputs = check_inputs(config, base, target)
            one = inputs.data.records.subset(inputs.data.members[:1])
            for attack in attacks:
                started = time.perf_counter()
                r = check_records(inputs.target, inputs.data, one, attack=attack, null="real", seed=args.seed, label_name=inputs.label,
                                  reference=inputs.reference)
                low, high = r.power_ci
                print(f"| {target} | {r.attack} | {r.power:.1%} [{low:.1%}, {high:.1%}] | {time.perf_counter() - started:.0f} |", flush=True)


if __name__ == "__main__":  # reference models train in worker processes
    main()
