"""Typed, validated sweep configuration (YAML, read safely within limits: :mod:`privaudit.config_loading`).

Example ``sweep.yaml``::

    seed: 0
    data:                          # the same block as an audit's
      path: records.parquet        # members: the training set; nonmembers: the held-out test set;
      label: income                # population: records for reference models (and validation)
      id_column: record_id
      membership: {column: membership}
    model:
      factory: privaudit.models:build_mlp      # default; n_inputs and n_classes are filled in
      factory_kwargs: {hidden: [256, 256]}
      encoder: {numeric: standardize, columns: {fnlwgt: bins}, n_bins: 50}
      training: {epochs: 30, batch_size: 128, learning_rate: 0.001}
      validation_size: 1000        # population records held out for early stopping (patience)
    settings:
      - name: baseline
      - {name: dp-eps1, dp: {target_epsilon: 1, delta: 1.0e-5}}
      - {name: weight-decay, training: {weight_decay: 0.001}}
      - {name: dropout, factory_kwargs: {dropout: 0.5}}
      - {name: early-stop, training: {patience: 3}}
      - {name: rounded, output_defence: {round: 1}}
    reference: {models: 4, mode: offline}      # optional: LiRA, RMIA, calibrated loss
    attacks: [loss, {name: classwise_threshold, signal: loss}, rmia]   # default: all that apply
    metrics: {fprs: [0.1, 0.01, 0.001], bootstrap: 1000}
    frontier_fpr: 0.001
    compute: {backend: local, store: reference-models}
    output: sweep

Every key is checked: an unknown key is an error that lists the allowed ones.
A ``model.factory`` outside privaudit runs only with ``trust_code: true`` at the
top level or ``--trust-code`` (:mod:`privaudit.trust`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal, Union

from pydantic import Field, ValidationError, field_validator, model_validator

from privaudit.config import (
    ComputeConfig,
    DataConfig,
    DPTrainingConfig,
    MetricsConfig,
    OutputDefenceConfig,
    MAX_SEED,
    TrainingRecipeConfig,
    known_attacks,
)
from privaudit.config_loading import StrictModel, format_validation_errors, load_yaml_file
from privaudit.exceptions import ConfigError

__all__ = [
    "SweepConfig", "SweepModelConfig", "SweepSetting", "SweepTrainingConfig", "TrainingOverrides", "EncoderConfig",
    "SweepReferenceConfig", "load_sweep_config", "parse_sweep_config", "DEFAULT_FACTORY",
]

DEFAULT_FACTORY = "privaudit.models:build_mlp"
#: Filled in from the data; a config that sets them is refused.
AUTOMATIC_FACTORY_KWARGS = ("n_inputs", "n_classes")
_NAME_PATTERN = r"^[A-Za-z0-9_.\-]+$"


class EncoderConfig(StrictModel):
    """How feature columns become the model's float inputs (fitted on the population records).

    Non-numeric columns are one-hot encoded (values unseen when fitting → all
    zeros). Numeric columns get ``numeric``: ``standardize`` (zero mean, unit
    variance), ``one_hot`` (one column per value) or ``bins`` (``n_bins``
    quantile bins, one-hot). ``columns`` overrides the method per column, e.g.
    the demo's Adult encoding is ``{numeric: one_hot, columns: {fnlwgt: bins}, n_bins: 200}``.
    """

    numeric: Literal["standardize", "one_hot", "bins"] = "standardize"
    n_bins: int = Field(default=20, ge=2, le=1000)
    columns: dict[str, Literal["standardize", "one_hot", "bins"]] = Field(default_factory=dict)


class SweepTrainingConfig(TrainingRecipeConfig):
    """The base training recipe of every setting: :class:`~privaudit.config.TrainingRecipeConfig` plus ``patience``.

    ``patience`` > 0 stops early on the validation loss (needs
    ``model.validation_size``). DP-SGD is set per setting (``settings[].dp``), not here.
    """

    patience: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _no_dp_here(self):
        if self.dp is not None:
            raise ValueError("give DP-SGD per setting (settings[].dp), not in model.training")
        return self


class TrainingOverrides(StrictModel):
    """A setting's changes to the base training recipe; keys left out keep the base value."""

    epochs: int | None = Field(default=None, ge=1)
    batch_size: int | None = Field(default=None, ge=1)
    learning_rate: float | None = Field(default=None, gt=0)
    weight_decay: float | None = Field(default=None, ge=0)
    label_smoothing: float | None = Field(default=None, ge=0, lt=1)
    patience: int | None = Field(default=None, ge=0)


class SweepModelConfig(StrictModel):
    """The model every setting trains: a torch factory, its arguments, the feature encoder and the base training."""

    factory: str = Field(default=DEFAULT_FACTORY, pattern=r"^[A-Za-z0-9_.]+:[A-Za-z0-9_.]+$")
    factory_kwargs: dict[str, Any] = Field(default_factory=dict)
    outputs: Literal["logits", "probabilities"] = "logits"
    encoder: EncoderConfig = Field(default_factory=EncoderConfig)
    training: SweepTrainingConfig = Field(default_factory=SweepTrainingConfig)
    validation_size: int = Field(default=0, ge=0)

    @field_validator("factory_kwargs")
    @classmethod
    def _no_automatic_kwargs(cls, value):
        given = [k for k in AUTOMATIC_FACTORY_KWARGS if k in value]
        if given:
            raise ValueError(f"{', '.join(given)} are filled in from the data and the encoder; remove them")
        return value


class SweepSetting(StrictModel):
    """One point of the sweep: a name plus what it changes from the base model.

    ``dp`` trains with DP-SGD (leave it out for ε = ∞); ``training`` overrides
    the base recipe; ``factory_kwargs`` overrides architecture arguments (e.g.
    ``dropout``); ``output_defence`` post-processes the answers.
    """

    name: str = Field(min_length=1, max_length=80, pattern=_NAME_PATTERN)
    dp: DPTrainingConfig | None = None
    training: TrainingOverrides | None = None
    factory_kwargs: dict[str, Any] | None = None
    output_defence: OutputDefenceConfig | None = None

    @model_validator(mode="before")
    @classmethod
    def _infinite_epsilon_means_no_dp(cls, values):
        if isinstance(values, dict) and isinstance(values.get("dp"), dict):
            epsilon = values["dp"].get("target_epsilon")
            if isinstance(epsilon, (int, float)) and not isinstance(epsilon, bool) and math.isinf(epsilon):
                raise ValueError("dp.target_epsilon = ∞ means no DP-SGD: leave out the dp block for that setting")
        return values

    @field_validator("factory_kwargs")
    @classmethod
    def _no_automatic_kwargs(cls, value):
        given = [k for k in AUTOMATIC_FACTORY_KWARGS if value and k in value]
        if given:
            raise ValueError(f"{', '.join(given)} are filled in from the data and the encoder; remove them")
        return value


class SweepReferenceConfig(StrictModel):
    """Reference models trained like each setting's target (same factory, arguments, training and DP).

    Defaults: ``offline`` models on population records, each on as many records
    as the target (``train_size``: default the number of members). A setting
    that only changes ``output_defence`` trains like its base setting, so its
    reference models are found in the store, not retrained.
    """

    models: int = Field(default=4, ge=1)
    mode: Literal["online", "offline"] = "offline"
    fraction: float = Field(default=0.5, gt=0, lt=1)
    train_size: int | None = Field(default=None, ge=2)
    include_population: bool = True


class SweepConfig(StrictModel):
    """A whole sweep: data, model, settings, attacks, metrics, optional reference models, compute and output folder."""

    seed: int = Field(default=0, ge=0, le=MAX_SEED)
    trust_code: bool = False
    data: DataConfig
    model: SweepModelConfig = Field(default_factory=SweepModelConfig)
    settings: list[SweepSetting] = Field(min_length=1)
    attacks: list[Union[str, dict[str, Any]]] | None = None
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    frontier_fpr: float = Field(default=0.001, gt=0, lt=1)
    reference: SweepReferenceConfig | None = None
    compute: ComputeConfig = Field(default_factory=ComputeConfig)
    output: str = "privaudit-sweep"

    _known_attacks = field_validator("attacks")(known_attacks)

    @model_validator(mode="after")
    def _consistent(self):
        if self.data.label is None or self.data.text_column is not None:  # DataConfig serves text audits too (privaudit.text.target_config)
            raise ValueError("a sweep trains tabular models: data needs 'label' (the label column) and no 'text_column'")
        names = [s.name for s in self.settings]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"setting names must be unique; repeated: {', '.join(duplicated)}")
        if not any(math.isclose(self.frontier_fpr, f) for f in self.metrics.fprs):
            raise ValueError(f"frontier_fpr {self.frontier_fpr:g} must be one of metrics.fprs ({', '.join(format(f, 'g') for f in self.metrics.fprs)})")
        for setting in self.settings:
            patience = setting.training.patience if setting.training and setting.training.patience is not None else self.model.training.patience
            if patience and self.model.validation_size == 0:
                raise ValueError(f"setting '{setting.name}' stops early (patience {patience}) and needs validation records: "
                                 "set model.validation_size (e.g. 1000), taken from the population records")
        return self


def _where(loc: tuple, raw: Any) -> str:
    """A dotted location with ``settings.<i>`` shown as ``settings[i] 'name'`` when the name is known."""
    parts = []
    for i, part in enumerate(loc):
        if i > 0 and loc[i - 1] == "settings" and isinstance(part, int):
            name = None
            if isinstance(raw, dict) and isinstance(raw.get("settings"), list) and part < len(raw["settings"]):
                entry = raw["settings"][part]
                name = entry.get("name") if isinstance(entry, dict) else None
            parts[-1] = f"settings[{part}]" + (f" '{name}'" if isinstance(name, str) else "")
            continue
        parts.append(str(part))
    return ".".join(parts) or "(top level)"


def _format_errors(exc: ValidationError, source: str, raw: Any) -> str:
    return format_validation_errors(exc, source, SweepConfig, lambda loc: _where(loc, raw))


def parse_sweep_config(raw: Any, source: str = "<sweep config>") -> SweepConfig:
    """Validate a loaded mapping; raise :class:`ConfigError` with one readable line.

    Examples
    --------
    >>> config = parse_sweep_config({"data": {"path": "d.csv", "label": "y", "membership": {"column": "split"}},
    ...                              "settings": [{"name": "base"}, {"name": "dp1", "dp": {"target_epsilon": 1, "delta": 1e-5}}]})
    >>> [s.name for s in config.settings], config.model.factory
    (['base', 'dp1'], 'privaudit.models:build_mlp')
    >>> parse_sweep_config({"data": {"path": "d.csv", "label": "y", "membership": {"column": "split"}},
    ...                     "settings": [{"name": "dp", "dp": {"target_epsilon": -1, "delta": 1e-5}}]})
    Traceback (most recent call last):
    ...
    privaudit.exceptions.ConfigError: <sweep config>: settings[0] 'dp'.dp.target_epsilon: Input should be greater than 0
    """
    if not isinstance(raw, dict):
        got = "an empty file" if raw is None else f"a {type(raw).__name__}"
        raise ConfigError(f"{source}: the sweep config must be a mapping of keys (data, model, settings, ...), got {got}; start it with 'data:'")
    try:
        return SweepConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, source, raw)) from None
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def load_sweep_config(path: str | Path, *, trust_code: bool = False) -> tuple[SweepConfig, Path]:
    """Read and validate a YAML sweep config; returns ``(config, folder it lives in)``.

    ``trust_code=True`` (``--trust-code``) trusts code the config names, as
    ``trust_code: true`` in the file does; ``model.factory`` and every
    ``factory_kwargs`` are checked before anything is imported.
    """
    from privaudit.trust import check_callable, check_factory_kwargs, check_ray_address

    path = Path(path)
    if not path.exists() and not path.is_symlink():
        raise ConfigError(f"{path}: sweep config not found (looked in {path.resolve().parent}); give the path of an existing YAML file "
                          "(privaudit sweep --example adult DIR writes one)")
    config = parse_sweep_config(load_yaml_file(path, "sweep config"), str(path))
    if trust_code and not config.trust_code:
        config = config.model_copy(update={"trust_code": True})
    base_dir = path.resolve().parent
    check_callable(config.model.factory, base_dir, f"{path}: model.factory", trust_code=config.trust_code)
    check_ray_address(config.compute.ray_address, f"{path}: compute.ray_address", trust_code=config.trust_code)
    check_factory_kwargs(config.model.factory_kwargs, f"{path}: model.factory_kwargs")
    for setting in config.settings:
        check_factory_kwargs(setting.factory_kwargs, f"{path}: settings[{setting.name}].factory_kwargs")
    return config, base_dir
