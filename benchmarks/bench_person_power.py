"""Person-level checks on RAND HIE person-years: power for persons with 1, 3 and 5 records, and calibration.

Run from the repository root::

    .venv/bin/python benchmarks/bench_person_power.py                          # seed 0: loss, class-wise loss, offline RMIA (8 models)
    .venv/bin/python benchmarks/bench_person_power.py --seeds 0,1,2,3,4        # five coin flips, figures pooled (~3 min on 2 cores)

Data: :func:`privaudit.datasets.load_rand_hie_years` (20,186 person-years of 5,908 people; 1 to 5
study years each). Membership is decided **per person** by a fair coin: a member person's years are
all in the target's training set, a non-member's none. Non-member persons are split at random
(seeded) into the null (``nonmember`` role: the null persons), the population (reference models
train on it) and held-out persons that are *checked* — never in the null — to measure the
false-positive rate of non-member persons.

Target: an overfit "deep" random forest (200 fully grown trees, bootstrap, ``max_features="sqrt"``),
trained on the member persons' years to predict hospital admission in that year.

For each attack, ``check_records(..., person_ids=...)`` checks every held-out non-member person
(the figures: share with p ≤ α = 0.05 per size, exact 95 % CI, KS test of uniformity) and reports
the power it measures on the audit's member persons of each size (share with p ≤ α, exact CI, n).
The record-level power of the same check is printed beside it. Pooled over seeds, the FPR is also given
as the mean of the per-seed rates ± its standard error across seeds: persons of one family share
features (family income, plan, site, years enrolled), so held-out persons are not independent and the
binomial interval of the pooled count is too narrow.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

ALPHA = 0.05
SIZES = (1, 3, 5)


def build(seed: int):
    """The audit frame (roles per person) and the held-out non-member persons' records."""
    import pandas as pd

    from privaudit.datasets import load_rand_hie_years

    years = load_rand_hie_years()
    rng = np.random.default_rng([seed, 15])
    persons = years.person_id.unique()
    member = rng.random(persons.size) < 0.5
    # non-member persons: 40 % null, 40 % population (reference models), 20 % held out and checked
    part = rng.choice(["nonmember", "population", "held_out"], size=persons.size, p=[0.4, 0.4, 0.2])
    role = pd.Series(np.where(member, "member", part), index=persons)
    years = years.assign(split=years.person_id.map(role).to_numpy(), record_id=[f"py{i}" for i in range(len(years))])
    frame = years[years.split != "held_out"].reset_index(drop=True)
    held_out = years[years.split == "held_out"].drop(columns="split").reset_index(drop=True)
    return frame, held_out


def forest(seed: int):
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    from privaudit.datasets.rand_hie import RAND_HIE_CATEGORICAL

    return make_pipeline(ColumnTransformer([("c", OneHotEncoder(handle_unknown="ignore"), RAND_HIE_CATEGORICAL)], remainder="passthrough"),
                         RandomForestClassifier(n_estimators=200, max_features="sqrt", n_jobs=1, random_state=seed))


def main() -> None:
    from scipy.stats import kstest

    from privaudit.data import audit_data_from_frame
    from privaudit.datasets.rand_hie import RAND_HIE_CATEGORICAL, RAND_HIE_LABEL, RAND_HIE_NUMERIC
    from privaudit.metrics.intervals import clopper_pearson
    from privaudit.record_check import check_records, records_from_frame
    from privaudit.reference.plan import ReferencePlan
    from privaudit.reference.recipes import SklearnRecipe
    from privaudit.targets import SklearnTarget

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0", help="comma-separated seeds (coin flips, splits, forests); figures are pooled over them")
    parser.add_argument("--reference-models", type=int, default=8)
    parser.add_argument("--attacks", default="loss,classwise,rmia", help="comma-separated: loss, classwise, rmia (needs reference models)")
    args = parser.parse_args()
    features = RAND_HIE_NUMERIC + RAND_HIE_CATEGORICAL + ["study_year"]
    choices = {"loss": "loss", "classwise": {"name": "classwise_threshold", "signal": "loss"}, "rmia": {"name": "rmia", "mode": "offline"}}
    attacks = [choices[a] for a in args.attacks.split(",") if a != "rmia" or args.reference_models]
    pooled: dict = {}
    header = ("| seed | attack | statistic | k | power at α = 0.05 [95 % CI] (member persons) | FPR of held-out non-member persons "
              "[95 % CI] (n) | KS p | null persons | seconds |\n|---:|---|---|---:|---:|---:|---:|---|---:|")
    for seed in [int(x) for x in args.seeds.split(",")]:
        frame, held_out = build(seed)
        data = audit_data_from_frame(frame, label=RAND_HIE_LABEL, id_column="record_id", features=features, membership_column="split",
                                     person_column="person_id")
        members = frame[frame.split == "member"]
        started = time.perf_counter()
        model = forest(seed).fit(members[features], members[RAND_HIE_LABEL])
        target = SklearnTarget(model, name="deep_forest")
        n_persons = {r: frame[frame.split == r].person_id.nunique() for r in ("member", "nonmember", "population")}
        print(f"\nRAND HIE person-years, seed {seed}: {n_persons['member']:,} member persons ({members.shape[0]:,} years), "
              f"{n_persons['nonmember']:,} null persons, {n_persons['population']:,} population persons, "
              f"{held_out.person_id.nunique():,} held-out non-member persons; forest trained in {time.perf_counter() - started:.0f} s "
              f"(train accuracy {model.score(members[features], members[RAND_HIE_LABEL]):.3f}, "
              f"held-out {model.score(held_out[features], held_out[RAND_HIE_LABEL]):.3f})\n\n{header}")
        records = records_from_frame(held_out, data, label=RAND_HIE_LABEL, id_column="record_id")
        with tempfile.TemporaryDirectory() as store:
            plan = ReferencePlan(SklearnRecipe(forest(seed), trusted_types=["sklearn.tree._tree.Tree"]), n_models=max(args.reference_models, 1),
                                 mode="offline", train_size=members.shape[0], store=store, backend="sequential")
            for attack in attacks:
                started = time.perf_counter()
                result = check_records(target, data, records, attack=attack, alpha=ALPHA, seed=seed, label_name=RAND_HIE_LABEL,
                                       reference=plan if isinstance(attack, dict) and attack["name"] == "rmia" else None,
                                       person_ids=held_out.person_id.to_numpy())
                seconds = time.perf_counter() - started
                method = "Σ log LR" if any("log-likelihood ratios" in n for n in result.notes) else "Σ normal scores"
                for k in SIZES:
                    sized = [v for v in result.persons if v.n_records == k]
                    if not sized:
                        continue
                    p = np.array([v.p_value for v in sized])
                    flagged = int((p <= ALPHA).sum())
                    low, high = clopper_pearson(flagged, p.size)
                    v = sized[0]
                    how = "exact k" if "exactly" in v.null_how else "reduced to k"
                    print(f"| {seed} | {result.attack} | {method} | {k} | {v.power:.1%} [{v.power_ci[0]:.1%}, {v.power_ci[1]:.1%}] "
                          f"(n = {v.n_member_persons:,}) | {flagged / p.size:.1%} [{low:.1%}, {high:.1%}] (n = {p.size:,}) | "
                          f"{kstest(p, 'uniform').pvalue:.2f} | {v.n_null_persons:,} ({how}) | {seconds:.0f} |", flush=True)
                    row = pooled.setdefault((result.attack, method, k), [0, 0, [], []])
                    row[0] += round(v.power * v.n_member_persons)
                    row[1] += v.n_member_persons
                    row[2].append(p)
                    row[3].append(flagged / p.size)
                low, high = result.power_ci
                print(f"| {seed} | {result.attack} | one record | – | {result.power:.1%} [{low:.1%}, {high:.1%}] "
                      f"(n = {result.n_members:,} member records) | | | | |")
    print("\nPooled over seeds " + args.seeds + "\n\n| attack | statistic | k | power at α = 0.05 [95 % CI] (member persons) | "
          "FPR of held-out non-member persons [95 % CI] (n) | FPR: mean of seeds ± SE across seeds | KS p |\n|---|---|---:|---:|---:|---:|---:|")
    for (attack, method, k), (hits, n, ps, rates) in pooled.items():
        p = np.concatenate(ps)
        flagged = int((p <= ALPHA).sum())
        (plow, phigh), (low, high) = clopper_pearson(hits, n), clopper_pearson(flagged, p.size)
        print(f"| {attack} | {method} | {k} | {hits / n:.1%} [{plow:.1%}, {phigh:.1%}] (n = {n:,}) | "
              f"{flagged / p.size:.1%} [{low:.1%}, {high:.1%}] (n = {p.size:,}) | {np.mean(rates):.1%} ± "
              f"{np.std(rates, ddof=1) / np.sqrt(len(rates)) if len(rates) > 1 else float('nan'):.1%} ({len(rates)} seeds) | "
              f"{kstest(p, 'uniform').pvalue:.2f} |")


if __name__ == "__main__":
    main()
