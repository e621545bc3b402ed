"""Typed, validated audit configuration (YAML, read safely within limits: :mod:`privaudit.config_loading`).

Example ``audit.yaml``::

    seed: 0
    data:
      path: records.csv          # CSV or Parquet; paths are relative to this file
      label: income
      id_column: record_id       # optional; row numbers otherwise
      person_column: person_id   # optional: membership per person (all of a person's records one role)
      membership:
        column: split            # member / nonmember / population
        # or index files of record ids, one per line:
        # members: members.txt
        # nonmembers: nonmembers.txt
        # population: population.txt
    targets:
      - name: my_model
        type: sklearn            # sklearn | torch | precomputed | http | causal_lm
        path: model.skops
    attacks: [loss, entropy, {name: classwise_threshold, signal: loss}]
    metrics: {fprs: [0.1, 0.01, 0.001], bootstrap: 1000, confidence: 0.95, delta: 1.0e-5}
    groups:                      # optional: slice the best attack's results
      - {column: sex}
      - {column: age, bands: [25, 35, 45, 55, 65]}
      - {by: class_frequency}    # rare vs common classes (rare_share: 0.1)
      - {by: outlierness, k: 10} # distance to the k nearest population records
    output: report/

Every key is checked: an unknown key is an error that lists the allowed ones.
Each entry of ``targets`` is validated by the config class of its ``type``
(:data:`TargetConfig`, a discriminated union built from
:data:`privaudit.targets.TARGET_TYPES`; the classes live beside each target in
``privaudit/targets/``), so a key of another type is refused too.
A factory outside privaudit (``factory: my_models:build``) runs only with
``trust_code: true`` at the top level or ``--trust-code`` (:mod:`privaudit.trust`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator

from privaudit.config_loading import StrictModel, format_validation_errors, load_yaml_file
from privaudit.exceptions import ConfigError
from privaudit.metrics import DEFAULT_DELTA, DEFAULT_FPRS
from privaudit.targets.config_base import (
    ClassifierTargetConfig,
    DPTrainingConfig,
    OutputDefenceConfig,
    ReferenceConfig,
    TargetConfigBase,
    TrainingRecipeConfig,
    refuse_boolean_class_names,
)
from privaudit.text.target_config import check_text_audit_config
from privaudit.trust import check_config_code

__all__ = [
    "AuditConfig", "DataConfig", "MembershipConfig", "TargetConfig", "TargetConfigBase", "ClassifierTargetConfig", "target_config_union", "MetricsConfig", "ReferenceConfig",
    "TrainingRecipeConfig", "DPTrainingConfig", "OutputDefenceConfig", "ComputeConfig", "GroupConfig", "load_config", "config_hash", "with_reference_overrides",
    "check_config_code", "MAX_SEED",
]

#: seeds are 32-bit unsigned integers (numpy's legacy seeding and many libraries refuse more)
MAX_SEED = 2**32 - 1


def known_attacks(cls, value, info: ValidationInfo):
    """Validator of an ``attacks`` list: every entry must build (:func:`privaudit.attacks.build_attack` raises ConfigError naming it)."""
    if value is None or (info is not None and any(t.type == "causal_lm" for t in (info.data or {}).get("targets") or ())):
        return value  # text attacks are checked by check_text_audit_config
    from privaudit.attacks import build_attack

    for index, spec in enumerate(value):
        name = spec.get("name") if isinstance(spec, dict) else spec
        if not isinstance(name, str):
            raise ValueError(f"entry {index}: an attack is named by a string (e.g. loss, or {{name: rmia}}), got {type(name).__name__}")
        try:
            build_attack(spec)
        except (TypeError, KeyError, AttributeError) as exc:  # a parameter of the wrong kind, e.g. a list where a name goes
            raise ValueError(f"entry {index} ({name}): invalid parameters ({exc}); see the attack's documentation") from None
    return value


class MembershipConfig(StrictModel):
    """Membership as a column, or as files of record ids (one per line).

    ``randomized: true`` declares that every audited record (member or
    non-member) was made a member by its own fair coin flip before training;
    only then is the reported ε a valid lower bound (one-run audit, see
    :mod:`privaudit.metrics.epsilon`). Default false: the ε figure is labelled
    a heuristic estimate.
    """

    column: str | None = None
    members: str | None = None
    nonmembers: str | None = None
    population: str | None = None
    randomized: bool = False

    @model_validator(mode="after")
    def _one_source(self):
        files = self.members or self.nonmembers or self.population
        if self.column and files:
            raise ValueError("give either 'column' or the files 'members'/'nonmembers'/'population', not both")
        if not self.column and not (self.members and self.nonmembers):
            raise ValueError("needs 'column', or both 'members' and 'nonmembers' files")
        return self


class DataConfig(StrictModel):
    path: str
    label: str | None = None  # required unless the targets are causal_lm (then text_column, default "text", names the texts)
    text_column: str | None = None
    id_column: str | None = None
    #: person ids: membership is per person, checks can test persons (--person-column), the report gains a person-level ROC
    person_column: str | None = None
    features: list[str] | None = None
    classes: list[Union[int, str]] | None = None
    membership: MembershipConfig

    @field_validator("features")
    @classmethod
    def _features_listed_once(cls, value):
        if value is not None:
            if not value:
                raise ValueError("an empty list names no feature; list the model's input columns, or leave 'features' out to use every other column")
            twice = sorted({f for f in value if value.count(f) > 1})
            if twice:
                raise ValueError(f"{', '.join(map(repr, twice))} listed more than once; list each feature once")
        return value

    @field_validator("classes", mode="before")
    @classmethod
    def _no_boolean_classes(cls, value):
        return refuse_boolean_class_names(value)


class ComputeConfig(StrictModel):
    """Where reference models are trained and cached."""

    backend: Literal["local", "sequential", "process", "ensemble", "ray"] = "local"
    n_jobs: int | None = Field(default=None, ge=1, le=1024)
    ray_address: str | None = None
    store: str = ".privaudit-cache"


def target_config_union():
    """The discriminated union (on ``type``) of every registered target type's config class (:data:`privaudit.targets.TARGET_TYPES`)."""
    from privaudit.targets import TARGET_TYPES

    classes = tuple(TARGET_TYPES.get(name).config for name in TARGET_TYPES.names())
    return classes[0] if len(classes) == 1 else Annotated[Union[classes], Field(discriminator="type")]


#: one target of a config: the config class of its ``type`` (``SklearnTargetConfig``, ``TorchTargetConfig``, ...)
TargetConfig = target_config_union()


class MetricsConfig(StrictModel):
    """Which figures to compute; ``confidence`` is the level of every interval and of the ε bound, ``delta`` the δ of the ε bound."""

    fprs: list[float] = Field(default_factory=lambda: list(DEFAULT_FPRS))
    bootstrap: int = Field(default=1000, ge=50, le=100_000)
    confidence: float = Field(default=0.95, gt=0.5, lt=1.0)
    delta: float = Field(default=DEFAULT_DELTA, ge=0.0, lt=0.1)

    @field_validator("fprs")
    @classmethod
    def _in_unit_interval(cls, value):
        if not value or any(not 0 < f < 1 for f in value):
            raise ValueError("every FPR must lie strictly between 0 and 1")
        return sorted(set(value), reverse=True)


class GroupConfig(StrictModel):
    """One way to slice the audited records: by a data ``column`` (numeric ones in ``bands``), or ``by`` a derived grouping.

    ``bands`` are the inner edges of half-open intervals, e.g. ``[25, 35]`` gives
    <25, 25–35, ≥35. ``rare_share`` applies to ``class_frequency``; ``k`` and
    ``n_bands`` to ``outlierness``. ``name`` overrides the name shown in reports.
    """

    column: str | None = Field(default=None, min_length=1)
    by: Literal["class_frequency", "outlierness", "label"] | None = None
    bands: list[float] | None = Field(default=None, min_length=1)
    rare_share: float | None = Field(default=None, gt=0, lt=1)
    k: int | None = Field(default=None, ge=1)
    n_bands: int | None = Field(default=None, ge=2, le=20)
    name: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _one_grouping(self):
        if (self.column is None) == (self.by is None):
            raise ValueError("each groups entry needs exactly one of 'column' or 'by'")
        if self.bands is not None:
            if self.column is None:
                raise ValueError("'bands' applies to a 'column' entry only")
            if any(high <= low for low, high in zip(self.bands, self.bands[1:])):
                raise ValueError("'bands' must be strictly increasing")
        if self.rare_share is not None and self.by != "class_frequency":
            raise ValueError("'rare_share' applies to 'by: class_frequency' only")
        if (self.k is not None or self.n_bands is not None) and self.by != "outlierness":
            raise ValueError("'k' and 'n_bands' apply to 'by: outlierness' only")
        return self


class AuditConfig(StrictModel):
    """A whole audit: data, one or more targets, attacks (default: all that fit), metrics and output folder."""

    seed: int = Field(default=0, ge=0, le=MAX_SEED)
    trust_code: bool = False
    data: DataConfig
    targets: list[TargetConfig] = Field(min_length=1)
    attacks: list[Union[str, dict[str, Any]]] | None = None
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    compute: ComputeConfig = Field(default_factory=ComputeConfig)
    groups: list[GroupConfig] | None = None
    output: str = "privaudit-report"

    @model_validator(mode="before")
    @classmethod
    def _single_target(cls, values):
        if isinstance(values, dict) and "target" in values:
            if "targets" in values:
                raise ValueError("give 'target' or 'targets', not both")
            values = dict(values)
            target = values.pop("target")
            if isinstance(target, dict):
                target = {"name": "target", **target}
            values["targets"] = [target]
        return values

    @model_validator(mode="after")
    def _unique_target_names(self):
        names = [t.name for t in self.targets]
        if len(set(names)) != len(names):
            raise ValueError(f"target names must be unique, got {names}")
        check_text_audit_config(self)  # a text audit (causal_lm targets) has texts and no label; any other has a label
        return self

    _known_attacks = field_validator("attacks")(known_attacks)


def parse_config(raw: Any, source: str = "<config>") -> AuditConfig:
    """Validate a loaded mapping; raise :class:`ConfigError` with one readable line."""
    if not isinstance(raw, dict):
        got = "an empty file" if raw is None else f"a {type(raw).__name__}"
        raise ConfigError(f"{source}: the config must be a mapping of keys (data, targets, ...), got {got}; start it with 'data:'")
    try:
        return AuditConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(format_validation_errors(exc, source, AuditConfig, extra_top=("target",))) from None
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def load_config(path: str | Path, *, trust_code: bool = False) -> tuple[AuditConfig, Path]:
    """Read and validate a YAML config; returns ``(config, folder it lives in)``.

    ``trust_code=True`` (the CLI's ``--trust-code``) trusts code the config
    names as ``trust_code: true`` in the file does. Every callable the config
    names is checked (:func:`check_config_code`) before anything is imported.
    """
    path = Path(path)
    raw = load_yaml_file(path)
    config = parse_config(raw, str(path))
    if trust_code and not config.trust_code:
        config = config.model_copy(update={"trust_code": True})
    base_dir = path.resolve().parent
    check_config_code(config, base_dir, source=str(path))
    return config, base_dir


def config_hash(config: AuditConfig) -> str:
    """SHA-256 of the validated config in canonical JSON (keys sorted)."""
    canonical = json.dumps(config.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def with_reference_overrides(config: AuditConfig, *, models: int | None = None, backend: str | None = None, ray_address: str | None = None) -> AuditConfig:
    """Apply the CLI's ``--reference-models``/``--backend``/``--ray-address`` to a validated config.

    ``models`` sets the count of every target's reference block. A target
    without one that privaudit can retrain (scikit-learn: clones of its
    estimator) gets ``{mode: auto, train_size: members}``: each reference model
    trains on as many records as the target's members, offline on population
    records when there are enough, and the run says which it chose
    (:func:`privaudit.reference.plan.plans_from_config`). Other targets without
    one are an error naming the key they need (``reference.training`` for torch,
    ``reference.estimator`` for precomputed and http targets).
    """
    raw = config.model_dump(mode="json")
    for target, spec in zip(raw["targets"], config.targets, strict=True):
        if getattr(getattr(spec, "reference", None), "outputs", None) is not None:  # the dump lists every default; the file's block says only outputs
            if models is not None:
                raise ConfigError(f"--reference-models: targets.{spec.name}.reference.outputs gives models trained elsewhere (their count is "
                                  "in the file); leave the option out for this config")
            target["reference"] = {"outputs": spec.reference.outputs}
    if models is not None:
        for target, spec in zip(raw["targets"], config.targets, strict=True):
            if spec.reference_recipe is None:
                raise ConfigError(f"--reference-models: {spec.missing_reference_recipe()}; leave the option out for this config")
            if target["reference"] is None:
                if spec.reference_recipe_required:
                    raise ConfigError(f"--reference-models: {spec.missing_reference_recipe()}; add that reference block to its config")
                target["reference"] = {"mode": "auto", "train_size": "members"}
            target["reference"]["models"] = models
    if backend is not None:
        raw["compute"]["backend"] = backend
    if ray_address is not None:
        raw["compute"]["ray_address"] = ray_address
    return parse_config(raw, "command-line options")
