"""Was it deleted? RAND HIE person-years: exact retraining vs "approximate unlearning" of 50 patients.

A hospital trains a model predicting hospital admission from person-years
(every study year of each of 5,908 RAND HIE people, 20,186 records; membership
is decided per person by a coin flip, so all of a person's years are in or
out). Fifty member patients (seeded) then ask to be forgotten. The hospital
offers two post-deletion models:

(a) ``after_exact``: retrained from scratch, same recipe and seed, without the
    deleted patients — the gold standard;
(b) ``after_unlearned``: "approximate unlearning" — a few epochs of gradient
    ascent on the deleted patients' records, then one epoch of fine-tuning on
    the remaining members.

``privaudit check CONFIG --records deleted.csv --person-column person_id
--target after_exact --before before`` runs the same person-level test (offline
RMIA, the same reference models, the same real non-member persons as null) on
the post-deletion model and on the model before deletion, and compares the
change of each patient's statistic with non-members' changes
(:mod:`privaudit.deletion_check`). A control group — 50 members who were *not*
deleted — shows what a still-remembered patient looks like.

Run::

    python examples/rand_hie_deletion.py --out rand-hie-deletion          # full: all 5,908 people
    python examples/rand_hie_deletion.py --out hie-small --people 2000 --epochs 30 --reference-models 2   # make test

Measured (full run, seed 0, 2 CPU cores, 2026-12-07; the script prints these
figures — see the README's "Was it deleted?" section):

* 5,908 people, 20,186 person-years; 2,956 member people (10,101 records);
  MLP 256×256, 100 epochs: accuracy 0.971 on its training years, 0.880 on
  held-out people; offline RMIA over 4 reference models; 50 deleted patients
  (170 person-years), 16 of them detectable before deletion (p ≤ 0.05).
* (a) exact retraining: 0 of 50 still detectable (q ≤ 0.05; 3 with p ≤ 0.05,
  2.5 expected at α); of the 16 detectable before, 11 have p_drop ≤ 0.05.
  Accuracy on the deleted years 0.971 → 0.853 (held-out people 0.881).
* (b) gradient ascent (5 epochs) + 1 epoch fine-tuning: 8 of 50 still
  detectable (q ≤ 0.05), all among the 16 detectable before; p_drop ≤ 0.05
  for 2 of those 16. Accuracy on the deleted years 0.947 (held-out 0.875).
* control (50 members not deleted, against (a)): 0 of 50 at q ≤ 0.05, 8 with p ≤ 0.05.
* power of the person test before deletion: 1 year 12.1 % [6.9, 19.2]
  (124 member patients), 3 years 19.1 % [17.4, 21.0] (1,845), 5 years
  14.8 % [12.3, 17.5] (772). With 16 reference models (same targets):
  15.3 % / 24.1 % / 21.1 %; (a) 0 of 50 still detectable, (b) 7 of 50.
"""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path

import numpy as np

HIDDEN = (256, 256)
N_DELETED = 50


def _encoder():
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from privaudit.datasets import RAND_HIE_CATEGORICAL, RAND_HIE_NUMERIC

    return ColumnTransformer([("numeric", StandardScaler(), RAND_HIE_NUMERIC),
                              ("health", OneHotEncoder(handle_unknown="ignore", sparse_output=False), RAND_HIE_CATEGORICAL)],
                             sparse_threshold=0.0)


def _accuracy(torch, module, x, y) -> float:
    module.eval()
    with torch.no_grad():
        return float((module(torch.from_numpy(x)).argmax(1).numpy() == y).mean())


def unlearn(torch, module, x_forget, y_forget, x_keep, y_keep, *, ascent_epochs: int, seed: int, lr: float = 1e-4):
    """Approximate unlearning: gradient *ascent* on the forget set (loss maximised, clipped), then one epoch of fine-tuning on the rest."""
    generator = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.Adam(module.parameters(), lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    xf, yf = torch.from_numpy(x_forget), torch.from_numpy(y_forget)
    module.train()
    for _ in range(ascent_epochs):
        for batch in torch.randperm(len(xf), generator=generator).split(32):
            optimiser.zero_grad()
            (-loss_fn(module(xf[batch]), yf[batch])).backward()
            torch.nn.utils.clip_grad_norm_(module.parameters(), 1.0)
            optimiser.step()
    xk, yk = torch.from_numpy(x_keep), torch.from_numpy(y_keep)
    for batch in torch.randperm(len(xk), generator=generator).split(128):
        optimiser.zero_grad()
        loss_fn(module(xk[batch]), yk[batch]).backward()
        optimiser.step()
    return module


def prepare(out: Path, *, seed: int, people: int | None, epochs: int, reference_models: int, ascent_epochs: int) -> tuple[Path, dict]:
    """Split people, train before / after_exact / after_unlearned, write data, models, config and the records to check."""
    import skops.io as sio
    import torch
    import yaml
    from safetensors.torch import save_file

    from privaudit.datasets import RAND_HIE_CATEGORICAL, RAND_HIE_LABEL, RAND_HIE_NUMERIC, load_rand_hie_years
    from privaudit.models import TrainingConfig, build_mlp, train_classifier

    torch.set_num_threads(1)
    frame = load_rand_hie_years()
    rng = np.random.default_rng(seed)
    ids = frame["person_id"].unique()
    if people is not None and people < ids.size:
        ids = np.sort(rng.choice(ids, people, replace=False))
        frame = frame[frame["person_id"].isin(ids)].reset_index(drop=True)
    coin, second = rng.random(ids.size) < 0.5, rng.random(ids.size) < 0.5  # member by a fair coin; the others: null or population
    role = dict(zip(ids, np.where(coin, "member", np.where(second, "nonmember", "population")), strict=True))
    frame["membership"] = frame["person_id"].map(role)
    frame["record_id"] = frame["person_id"] + "-" + frame["study_year"].astype(str)
    member_ids = ids[coin]
    deleted = set(rng.choice(member_ids, N_DELETED, replace=False))
    control = set(rng.choice(np.array(sorted(set(member_ids) - deleted)), N_DELETED, replace=False))
    (out / "data").mkdir(parents=True, exist_ok=True)
    (out / "models").mkdir(exist_ok=True)
    frame.to_parquet(out / "data" / "rand_hie_years.parquet", index=False)

    features = RAND_HIE_NUMERIC + RAND_HIE_CATEGORICAL
    encoder = _encoder().fit(frame.loc[frame.membership == "population", features])
    sio.dump(encoder, out / "models" / "encoder.skops")
    trusted = sorted(sio.get_untrusted_types(file=out / "models" / "encoder.skops"))
    x = encoder.transform(frame[features]).astype(np.float32)
    y = (frame[RAND_HIE_LABEL] == "yes").to_numpy().astype(np.int64)
    is_member = (frame.membership == "member").to_numpy()
    is_deleted = frame["person_id"].isin(deleted).to_numpy()
    test = (frame.membership == "nonmember").to_numpy()
    training = TrainingConfig(epochs=epochs, batch_size=128, learning_rate=1e-3)

    def train(mask):
        torch.manual_seed(seed)
        module = build_mlp(x.shape[1], 2, hidden=HIDDEN)
        train_classifier(module, x[mask], y[mask], training, seed=seed)
        return module

    models = {"before": train(is_member), "after_exact": train(is_member & ~is_deleted)}
    keep = is_member & ~is_deleted
    models["after_unlearned"] = unlearn(torch, copy.deepcopy(models["before"]), x[is_deleted], y[is_deleted], x[keep], y[keep],
                                        ascent_epochs=ascent_epochs, seed=seed)
    accuracy = {}
    for name, module in models.items():
        save_file({k: v.contiguous() for k, v in module.state_dict().items()}, str(out / "models" / f"{name}.safetensors"))
        accuracy[name] = {"train_kept": _accuracy(torch, module, x[keep], y[keep]), "deleted": _accuracy(torch, module, x[is_deleted], y[is_deleted]),
                          "test": _accuracy(torch, module, x[test], y[test])}
    # each reference model trains on half the population records (RMIA tunes offline_a on records left OUT of some models)
    n_population = int((frame.membership == "population").sum())
    reference = {"models": reference_models, "mode": "offline", "train_size": min(int(is_member.sum()), n_population // 2),
                 "training": {"epochs": epochs, "batch_size": 128, "learning_rate": 1e-3}}
    targets = [{"name": name, "type": "torch", "weights": f"models/{name}.safetensors", "factory": "privaudit.models:build_mlp",
                "factory_kwargs": {"n_inputs": int(x.shape[1]), "n_classes": 2, "hidden": list(HIDDEN)}, "outputs": "logits",
                "transform": "models/encoder.skops", "trusted_types": trusted, "reference": reference} for name in models]
    config = {"seed": seed,
              "data": {"path": "data/rand_hie_years.parquet", "label": RAND_HIE_LABEL, "id_column": "record_id", "features": features,
                       "classes": ["no", "yes"], "membership": {"column": "membership"},
                       "person_column": "person_id"},
              "targets": targets, "compute": {"backend": "local", "store": "reference-models"}, "output": "."}
    path = out / "config.yaml"
    path.write_text("# Written by examples/rand_hie_deletion.py\n" + yaml.safe_dump(config, sort_keys=False))
    columns = ["record_id", "person_id", *features, RAND_HIE_LABEL]
    frame.loc[is_deleted, columns].to_csv(out / "deleted.csv", index=False)
    frame.loc[frame["person_id"].isin(control).to_numpy(), columns].to_csv(out / "kept.csv", index=False)
    facts = {"people": int(ids.size), "person_years": len(frame), "member_people": int(coin.sum()), "member_records": int(is_member.sum()),
             "deleted_people": N_DELETED, "deleted_records": int(is_deleted.sum()), "epochs": epochs, "ascent_epochs": ascent_epochs,
             "reference_models": reference_models, "accuracy": accuracy}
    (out / "models" / "facts.json").write_text(json.dumps(facts, indent=2))
    return path, facts


def summarise(result) -> dict:
    """The figures of one deletion check: how many persons are still flagged, were detectable before, changed as a deletion would."""
    n = len(result.persons)
    alpha = result.alpha
    count = {"persons": n,
             "still_detectable_q": sum(p.q_after <= alpha for p in result.persons),
             "after_p_le_alpha": sum(p.p_after <= alpha for p in result.persons),
             "detectable_before": sum(p.p_before <= alpha for p in result.persons),
             "dropped_q": sum(p.q_drop <= alpha for p in result.persons),
             "drop_p_le_alpha": sum(p.p_drop <= alpha for p in result.persons)}
    count["median_p_drop"] = float(np.median([p.p_drop for p in result.persons]))
    count["median_delta"] = float(np.median([p.delta for p in result.persons]))
    return count


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("rand-hie-deletion"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--people", type=int, default=None, help="use a seeded subset of this many people (default: all 5,908)")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--ascent-epochs", type=int, default=5)
    parser.add_argument("--reference-models", type=int, default=4)
    args = parser.parse_args(argv)

    from privaudit.config import load_config
    from privaudit.deletion_check import run_deletion_check
    from privaudit.report.deletion_report import deletion_result_to_dict

    args.out.mkdir(parents=True, exist_ok=True)
    config_path, facts = prepare(args.out, seed=args.seed, people=args.people, epochs=args.epochs,
                                 reference_models=args.reference_models, ascent_epochs=args.ascent_epochs)
    config, base_dir = load_config(config_path)
    figures = {"facts": facts}
    for label, records, target in (("exact", "deleted.csv", "after_exact"), ("unlearned", "deleted.csv", "after_unlearned"),
                                   ("kept_control", "kept.csv", "after_exact")):
        result = run_deletion_check(config, base_dir, records_file=args.out / records, target_name=target, before="before",
                                    person_column="person_id", power_sizes=(1, 3, 5))
        (args.out / f"deletion-{label}.json").write_text(json.dumps(deletion_result_to_dict(result), indent=2, ensure_ascii=False))
        figures[label] = summarise(result)
        if label == "exact":  # power on the member patients other than the deleted ones (the checked persons are left out)
            figures["power"] = {k: {"power": v[0], "ci95": list(v[1]), "n_member_persons": v[2]} for k, v in sorted(result.power.items())}
        figures["attack"], figures["method"] = result.attack, result.method
    (args.out / "figures.json").write_text(json.dumps(figures, indent=2))
    acc = facts["accuracy"]
    print(f"{facts['people']:,} people, {facts['person_years']:,} person-years; {facts['member_people']:,} member people "
          f"({facts['member_records']:,} records); {facts['deleted_people']} deleted ({facts['deleted_records']} records); attack {figures['attack']}")
    for name, a in acc.items():
        print(f"  {name:16s} accuracy: kept members {a['train_kept']:.3f}, deleted patients {a['deleted']:.3f}, test {a['test']:.3f}")
    for label in ("exact", "unlearned", "kept_control"):
        f = figures[label]
        print(f"  {label:12s}: {f['still_detectable_q']}/{f['persons']} still detectable (q ≤ 0.05; {f['after_p_le_alpha']} with p ≤ 0.05), "
              f"{f['detectable_before']}/{f['persons']} detectable before, {f['dropped_q']}/{f['persons']} changed as a deletion "
              f"would (q_drop ≤ 0.05; {f['drop_p_le_alpha']} with p_drop ≤ 0.05), median p_drop {f['median_p_drop']:.3g}")
    print("power of the person test on the model before deletion (α = 0.05), by years per patient: " + "; ".join(
        f"{k}: {100 * v['power']:.1f} % [{100 * v['ci95'][0]:.1f}, {100 * v['ci95'][1]:.1f}] of {v['n_member_persons']:,} member patients"
        for k, v in figures["power"].items()))
    print(f"figures: {args.out / 'figures.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
