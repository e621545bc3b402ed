"""Ready-made sweeps: ``privaudit sweep --example adult DIR`` writes the data file and the config.

The Adult example splits the 48,842 UCI Adult records with a seeded
permutation: 1,000 members (the training set every setting trains on),
10,000 non-members (the test set: enough to resolve a TPR at 0.1 % FPR with
10 expected false positives) and the remaining 37,842 as population records
(the encoder and the reference models). Its config is
``examples/sweep-adult.yaml`` in the repository, word for word.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from privaudit.exceptions import ConfigError
from privaudit.output_folder import OutputFolder

__all__ = ["EXAMPLES", "write_example", "ADULT_SWEEP_YAML"]

ADULT_SWEEP_YAML = """\
# Privacy–utility sweep on UCI Adult: DP-SGD at ε = 0.5 … 8 and ∞, weight decay, dropout,
# and two output defences (rounding, labels only), each audited with LOSS, class-wise LOSS,
# offline LiRA and offline RMIA (2 reference models per trained recipe).
# Write the data next to this file and run it with:
#   privaudit sweep --example adult DIR && privaudit sweep DIR/sweep-adult.yaml
seed: 0
data:
  path: data/adult-sweep.parquet     # written by `privaudit sweep --example adult DIR`
  label: income
  id_column: record_id
  features: [age, fnlwgt, education_num, capital_gain, capital_loss, hours_per_week, workclass, education,
             marital_status, occupation, relationship, race, sex, native_country]
  classes: ["<=50K", ">50K"]
  membership: {column: membership}   # 1,000 members, 10,000 non-members, 37,842 population records
model:
  factory: privaudit.models:build_mlp
  factory_kwargs: {hidden: [256, 256]}
  encoder: {numeric: one_hot, columns: {fnlwgt: bins}, n_bins: 200}   # the demo's encoding
  training: {epochs: 20, batch_size: 128, learning_rate: 0.001}
settings:
  - name: no-dp                      # ε = ∞: the base model
  # DP-SGD takes a larger step: with lr 0.001 its noisy steps leave a majority-class model
  - {name: dp-eps8, dp: {target_epsilon: 8, delta: 1.0e-5}, training: {learning_rate: 0.01}}
  - {name: dp-eps4, dp: {target_epsilon: 4, delta: 1.0e-5}, training: {learning_rate: 0.01}}
  - {name: dp-eps2, dp: {target_epsilon: 2, delta: 1.0e-5}, training: {learning_rate: 0.01}}
  - {name: dp-eps1, dp: {target_epsilon: 1, delta: 1.0e-5}, training: {learning_rate: 0.01}}
  - {name: dp-eps0.5, dp: {target_epsilon: 0.5, delta: 1.0e-5}, training: {learning_rate: 0.01}}
  - {name: weight-decay, training: {weight_decay: 0.01}}
  - {name: dropout, factory_kwargs: {dropout: 0.5}}
  - {name: rounded, output_defence: {round: 1}}          # trains like no-dp: its model and reference models are reused
  - {name: labels-only, output_defence: {labels_only: true}}
reference: {models: 2, mode: offline}  # each trained like its setting's target, on 1,000 population records
attacks: [loss, {name: classwise_threshold, signal: loss}, lira, rmia]
metrics: {fprs: [0.1, 0.01, 0.001], bootstrap: 1000}
frontier_fpr: 0.001
compute: {backend: local, store: reference-models}
output: sweep
"""

ADULT_MEMBERS, ADULT_NONMEMBERS = 1_000, 10_000


def _write_adult(folder: OutputFolder, seed: int = 0) -> Path:
    from privaudit.datasets.adult import load_adult

    frame = load_adult().drop(columns=["uci_split"])
    order = np.random.default_rng(seed).permutation(len(frame))
    roles = np.full(len(frame), "population", dtype=object)
    roles[order[:ADULT_MEMBERS]] = "member"
    roles[order[ADULT_MEMBERS:ADULT_MEMBERS + ADULT_NONMEMBERS]] = "nonmember"
    frame["membership"] = roles
    frame.to_parquet(folder.stage_path("data/adult-sweep.parquet"), index=False)
    return folder.write_text("sweep-adult.yaml", ADULT_SWEEP_YAML)


#: example name → (files it writes, writer ``(OutputFolder) -> config path``)
EXAMPLES = {"adult": (("sweep-adult.yaml", "data/adult-sweep.parquet"), _write_adult)}


def write_example(name: str, folder: str | Path, *, force: bool = False) -> Path:
    """Write example ``name``'s data and config into ``folder`` (created if needed); returns the config's path.

    Goes through :class:`~privaudit.output_folder.OutputFolder`: a folder
    privaudit did not create, or an example config edited since it was
    written, is refused with :class:`~privaudit.exceptions.OutputError` unless ``force``.
    """
    if name not in EXAMPLES:
        raise ConfigError(f"unknown sweep example '{name}'; examples: {', '.join(EXAMPLES)}")
    names, writer = EXAMPLES[name]
    with OutputFolder(folder, command=f"sweep --example {name}", names=names, force=force, what="example folder") as out:
        return writer(out)
