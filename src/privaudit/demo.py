"""The built-in demo: train two models on UCI Adult members and audit both.

``run_demo`` goes through the same path a user's audit does: it writes the
records (Parquet, with a membership column), the fitted encoder (skops), the
two models (safetensors + the ``privaudit.models:build_mlp`` factory) and a
YAML config into the output folder, then runs :func:`privaudit.run_audit` on
that config. Re-auditing later is ``privaudit audit <out>/config.yaml``.

Design (deterministic under ``seed``):

* 1,000 members (the training set of both models), 10,000 non-members
  (enough to resolve FPR 0.1 % with 10 expected false positives),
  2,000 validation records for early stopping (marked unused), and the rest
  (35,842) as population records known to the attacker.
* ``overfit_mlp``: 2 × 512 ReLU MLP, Adam, 200 epochs, no regularisation.
* ``regularised_mlp``: 1 × 64 ReLU MLP with dropout 0.5, weight decay 1e-3,
  label smoothing 0.1 and early stopping on the validation records.
* Reference models (``reference_models``, default 16 per target): offline,
  each trained like its target (architecture, optimiser, the epochs the
  target ran) on 1,000 population records, so LiRA and RMIA run in their
  offline forms beside the threshold attacks. They are cached under
  ``reference-models/`` in the output folder.
* Features: the categorical columns and the small-range numeric columns
  one-hot encoded, ``fnlwgt`` in 200 quantile bins — a sparse encoding that
  lets the unregularised model memorise its members, as small-data models do.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import numpy as np

from privaudit.datasets.adult import ADULT_CATEGORICAL, ADULT_LABEL, ADULT_NUMERIC, load_adult
from privaudit.demo_persons import PERSON_DEMO_FILES, stage_person_demo, worked_person_check
from privaudit.exceptions import require
from privaudit.models import TrainingConfig, build_mlp, train_classifier
from privaudit.output_folder import OutputFolder
from privaudit.progress import track

__all__ = ["run_demo", "prepare_demo", "DEMO_MODELS", "DEMO_FILES", "make_adult_encoder"]

N_MEMBERS = 1_000
N_NONMEMBERS = 10_000
N_VALIDATION = 2_000
DEFAULT_REFERENCE_MODELS = 16

#: name → (architecture kwargs, training config, uses early stopping)
DEMO_MODELS = {
    "overfit_mlp": ({"hidden": [512, 512], "dropout": 0.0}, TrainingConfig(epochs=200, batch_size=128, learning_rate=1e-3)),
    "regularised_mlp": (
        {"hidden": [64], "dropout": 0.5},
        TrainingConfig(epochs=100, batch_size=128, learning_rate=1e-3, weight_decay=1e-3, label_smoothing=0.1, patience=5),
    ),
}


def make_adult_encoder():
    """Unfitted scikit-learn ColumnTransformer for the Adult features (dense float output)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import KBinsDiscretizer, OneHotEncoder

    one_hot = [c for c in ADULT_NUMERIC if c != "fnlwgt"] + ADULT_CATEGORICAL
    return ColumnTransformer(
        [
            ("fnlwgt", KBinsDiscretizer(n_bins=200, encode="onehot-dense", strategy="quantile", quantile_method="averaged_inverted_cdf"), ["fnlwgt"]),
            ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False), one_hot),
        ],
        sparse_threshold=0.0,
    )


#: members and non-members in the demo's worked record check
WORKED_CHECK_RECORDS = 3


def _reference_block(training: TrainingConfig, epochs_run: int, n_models: int) -> dict:
    """Offline reference models trained like the target: same architecture, optimiser and
    the number of epochs the target actually ran, on 1,000 population records each."""
    return {
        "models": n_models,
        "mode": "offline",
        "train_size": N_MEMBERS,
        "training": {
            "epochs": int(epochs_run),
            "batch_size": training.batch_size,
            "learning_rate": training.learning_rate,
            "weight_decay": training.weight_decay,
            "label_smoothing": training.label_smoothing,
        },
    }


def _write_config(out, seed: int, n_inputs: int, trusted: list[str], epochs_run: dict, reference_models: int) -> Path:
    import yaml

    targets = []
    for name, (arch, training) in DEMO_MODELS.items():
        targets.append(
            {
                "name": name,
                "type": "torch",
                "weights": f"models/{name}.safetensors",
                "factory": "privaudit.models:build_mlp",
                "factory_kwargs": {"n_inputs": n_inputs, "n_classes": 2, **arch},
                "outputs": "logits",
                "transform": "models/encoder.skops",
                "trusted_types": trusted,
            }
        )
        if reference_models:
            targets[-1]["reference"] = _reference_block(training, epochs_run[name], reference_models)
    config = {
        "seed": seed,
        "data": {
            "path": "data/adult_demo.parquet",
            "label": ADULT_LABEL,
            "id_column": "record_id",
            "features": ADULT_NUMERIC + ADULT_CATEGORICAL,
            "classes": ["<=50K", ">50K"],
            "membership": {"column": "membership"},
        },
        "targets": targets,
        "compute": {"backend": "local", "store": "reference-models"},
        "groups": [
            {"column": "sex"},
            {"column": "race"},
            {"column": "age", "bands": [25, 35, 45, 55, 65]},
            {"by": "class_frequency"},
            {"by": "outlierness"},
        ],
        "output": ".",
    }
    return out.write_text("config.yaml", "# Written by `privaudit demo`; rerun with: privaudit audit config.yaml\n" + yaml.safe_dump(config, sort_keys=False))


#: what the demo writes into its folder besides the report (``reference-models/`` is the store the audit fills)
DEMO_FILES = ("data/adult_demo.parquet", "models/encoder.skops", *(f"models/{name}.safetensors" for name in DEMO_MODELS),
              "models/training.json", "config.yaml", "reference-models/", *PERSON_DEMO_FILES)


def prepare_demo(out_dir: str | Path | OutputFolder, *, seed: int = 0, reference_models: int = DEFAULT_REFERENCE_MODELS,
                 progress: Callable[[str], None] | None = None, force: bool = False) -> Path:
    """Train the demo models and write data, models and config (all at once, see :class:`OutputFolder`); returns the config path.

    ``out_dir`` is a folder path or an :class:`~privaudit.output_folder.OutputFolder` the caller holds;
    a folder privaudit did not create (or a file there it did not write, such as the user's own
    ``config.yaml``) is refused unless ``force``. An earlier demo's report files are removed with
    the commit, so the folder never pairs new models with an old report.
    """
    if not isinstance(out_dir, OutputFolder):
        with OutputFolder(out_dir, command="demo", names=DEMO_FILES, force=force) as folder:
            return prepare_demo(folder, seed=seed, reference_models=reference_models, progress=progress)
    from privaudit.report import REPORT_FILES

    torch = require("torch", "torch")
    save_file = require("safetensors.torch", "torch").save_file
    sio = require("skops.io", "sklearn")
    out = out_dir
    out.claim(*DEMO_FILES)

    frame = load_adult()
    order = np.random.default_rng(seed).permutation(len(frame))
    roles = np.full(len(frame), "population", dtype=object)
    roles[order[:N_MEMBERS]] = "member"
    roles[order[N_MEMBERS : N_MEMBERS + N_NONMEMBERS]] = "nonmember"
    validation = order[N_MEMBERS + N_NONMEMBERS : N_MEMBERS + N_NONMEMBERS + N_VALIDATION]
    roles[validation] = "unused"
    frame["membership"] = roles
    frame.drop(columns=["uci_split"]).to_parquet(out.stage_path("data/adult_demo.parquet"), index=False)

    members = order[:N_MEMBERS]
    features = frame[ADULT_NUMERIC + ADULT_CATEGORICAL]
    labels = (frame[ADULT_LABEL] == ">50K").to_numpy().astype(np.int64)
    encoder = make_adult_encoder().fit(features.iloc[members])
    encoded = encoder.transform(features).astype(np.float32)
    encoder_file = out.stage_path("models/encoder.skops")
    sio.dump(encoder, encoder_file)
    trusted = sorted(sio.get_untrusted_types(file=encoder_file))

    torch.manual_seed(seed)
    summary = {}
    for index, (name, (arch, training)) in enumerate(DEMO_MODELS.items()):
        torch.manual_seed(seed + index)
        module = build_mlp(encoded.shape[1], 2, **arch)
        with track(progress, f"training {name} on {N_MEMBERS:,} Adult members", training.epochs, "epochs") as advance:
            info = train_classifier(
                module,
                encoded[members],
                labels[members],
                training,
                seed=seed + index,
                validation=(encoded[validation], labels[validation]) if training.patience else None,
                on_epoch=lambda epoch, loss: advance(1, note=f"training loss {loss:.3g}"),
            )
        save_file({k: v.contiguous() for k, v in module.state_dict().items()}, str(out.stage_path(f"models/{name}.safetensors")))
        summary[name] = {"architecture": arch, "training": training.__dict__, **info}
    out.write_text("models/training.json", json.dumps(summary, indent=2))
    epochs_run = {name: info["epochs_run"] for name, info in summary.items()}
    path = _write_config(out, seed, int(encoded.shape[1]), trusted, epochs_run, reference_models)
    stage_person_demo(out, seed, progress)
    out.commit(remove=REPORT_FILES)
    return path


def run_demo(out_dir: str | Path = "privaudit-demo", *, seed: int = 0, reference_models: int = DEFAULT_REFERENCE_MODELS, progress: Callable[[str], None] | None = None,
             force: bool = False):
    """Train, audit and report; returns ``(AuditResult, dict of written report files)``.

    ``reference_models`` offline reference models per target (0: none) add
    LiRA, RMIA and calibrated loss to the threshold attacks. The folder is
    checked and locked for the whole run (:class:`~privaudit.output_folder.OutputFolder`;
    ``force`` writes into a folder privaudit did not create, leaving other files alone).
    """
    from privaudit.pipeline import run_audit
    from privaudit.config import load_config
    from privaudit.report import REPORT_FILES, write_report

    with OutputFolder(out_dir, command="demo", names=(*DEMO_FILES, *REPORT_FILES), force=force) as folder:
        config_path = prepare_demo(folder, seed=seed, reference_models=reference_models, progress=progress)
        config, base_dir = load_config(config_path)
        result = run_audit(config, base_dir, progress=progress)
        result.record_checks.append(worked_check(config, base_dir, seed=seed, progress=progress, online=reference_models > 0))
        result.record_checks.append(worked_person_check(Path(base_dir) / "persons" / "config.yaml", seed=seed, progress=progress))
        files = write_report(result, folder)  # the config's output is "." : the demo folder itself
    return result, files


def worked_check(config, base_dir, *, seed: int = 0, target: str = "overfit_mlp", n_each: int = WORKED_CHECK_RECORDS, online: bool = True,
                 progress: Callable[[str], None] | None = None):
    """The demo's worked record check: ``n_each`` members and ``n_each`` non-members drawn at random (seeded), not picked by score.

    ``online`` (the demo's default when it has reference models): the strongest check the demo has,
    ``check --mode online`` — reference models trained with the checked records, a null of real
    non-members and a power sample each IN a random half (:mod:`privaudit.record_online`), online
    LiRA with 16 models (32.5 % power at α = 0.05 on this target vs 15.5 % offline, BENCHMARKS.md);
    real null only. Else ``check``'s offline default (:func:`privaudit.pipeline.strongest_check_attack`)
    with the real non-members and 10,000 fabricated profiles (the larger p decides).
    """
    from privaudit.data import concat_records
    from privaudit.record_check import check_inputs, check_records

    inputs = check_inputs(config, base_dir, target)
    data = inputs.data
    rng = np.random.default_rng(seed + 7)
    picked = concat_records([data.records.subset(rng.choice(data.members, n_each, replace=False)),
                             data.records.subset(rng.choice(data.nonmembers, n_each, replace=False))])
    online = online and inputs.reference is not None
    if progress is not None:
        how = "online reference models, real null" if online else "check's default attack, real and fabricated nulls"
        progress(f"{target}: worked record check of {n_each} members and {n_each} non-members ({how})")
    if online:
        return check_records(inputs.target, data, picked, attack=None, null="real", mode="online", seed=seed,
                             label_name=inputs.label, reference=inputs.reference, progress=progress)
    return check_records(inputs.target, data, picked, attack=None, null="both", n_fabricated=10_000, seed=seed,
                         label_name=inputs.label, reference=inputs.reference, progress=progress)
