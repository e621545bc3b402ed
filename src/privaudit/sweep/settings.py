"""A sweep's settings resolved against its base model: effective recipe, words for the defence, attacks to run.

Pure functions of the validated config (no torch): :func:`resolve_settings`
applies each setting's overrides, :func:`describe_setting` says what a
setting changes, :func:`attack_specs` picks the attacks for what a target
answers, :func:`check_setting` refuses mistakes that would otherwise surface
only after earlier settings trained.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from privaudit.exceptions import ConfigError, require

__all__ = ["ResolvedSetting", "resolve_settings", "describe_setting", "attack_specs", "check_setting", "check_augmented"]


@dataclass(frozen=True)
class ResolvedSetting:
    """A setting with the base model applied: everything needed to train and audit it."""

    name: str
    factory_kwargs: dict
    training: object  # privaudit.models.TrainingConfig, dp included
    output_defence: dict | None
    config: dict  # the setting as written (validated, JSON)
    description: str


def _number(value) -> str:
    return format(value, "g") if isinstance(value, float) else str(value)


def describe_setting(setting, base_training, base_kwargs: dict) -> str:
    """The setting's defences in a few words, e.g. ``"DP-SGD ε=1 (δ=1e-05); dropout 0.5"`` (``"none"`` for the base model).

    Examples
    --------
    >>> from privaudit.sweep.config import SweepSetting, SweepTrainingConfig
    >>> base = SweepTrainingConfig()
    >>> describe_setting(SweepSetting(name="a", training={"weight_decay": 0.001}, output_defence={"round": 1}), base, {})
    'weight decay 0.001; output rounded to 1 decimal'
    >>> describe_setting(SweepSetting(name="b"), base, {})
    'none'
    """
    parts = []
    if setting.dp is not None:
        dp = setting.dp
        parts.append(f"DP-SGD ε={_number(dp.target_epsilon)} (δ={_number(dp.delta)}, clip {_number(dp.max_grad_norm)}, {dp.accountant})")
    labels = {"weight_decay": "weight decay", "label_smoothing": "label smoothing", "patience": "early stopping, patience",
              "epochs": "epochs", "batch_size": "batch size", "learning_rate": "learning rate"}
    for key, value in (setting.training.model_dump(exclude_none=True) if setting.training else {}).items():
        if value != getattr(base_training, key):
            parts.append(f"{labels[key]} {_number(value)}")
    for key, value in (setting.factory_kwargs or {}).items():
        if base_kwargs.get(key) != value:
            parts.append(f"{key} {_number(value) if not isinstance(value, (list, dict)) else json.dumps(value)}")
    defence = setting.output_defence
    if defence is not None:
        if defence.labels_only:
            parts.append("labels only")
        if defence.temperature is not None:
            parts.append(f"temperature {_number(defence.temperature)}")
        if defence.top_k is not None:
            parts.append(f"top-{defence.top_k} probabilities")
        if defence.round is not None:
            parts.append(f"output rounded to {defence.round} decimal{'s' if defence.round != 1 else ''}")
    return "; ".join(parts) or "none"


def resolve_settings(config) -> list[ResolvedSetting]:
    """Apply each setting's overrides to the base model (without the automatic ``n_inputs``/``n_classes``)."""
    from privaudit.models import DPConfig, TrainingConfig
    from privaudit.sweep.config import SweepTrainingConfig

    base = config.model.training
    resolved = []
    for setting in config.settings:
        values = base.model_dump(exclude={"dp"})
        if setting.training is not None:
            values.update(setting.training.model_dump(exclude_none=True))
        training = SweepTrainingConfig.model_validate(values)  # the merged recipe obeys the same limits
        dp = None if setting.dp is None else DPConfig(**setting.dp.model_dump())
        kwargs = {**config.model.factory_kwargs, **(setting.factory_kwargs or {})}
        resolved.append(ResolvedSetting(
            name=setting.name, factory_kwargs=kwargs,
            training=TrainingConfig(**training.model_dump(exclude={"dp"}), dp=dp),
            output_defence=None if setting.output_defence is None else setting.output_defence.model_dump(exclude_defaults=True),
            config=setting.model_dump(mode="json", exclude_none=True),
            description=describe_setting(setting, base, config.model.factory_kwargs),
        ))
    return resolved


def attack_specs(config, output_kind: str) -> tuple[list | None, list[str]]:
    """The attacks to run on a target answering ``output_kind``, and the configured ones skipped.

    ``None`` (no ``attacks`` in the config) lets :func:`privaudit.pipeline.audit`
    pick every attack that applies. Reference attacks listed without a
    ``mode`` get the reference block's. On a label-only target the attacks
    that need probabilities are skipped; ``correctness`` runs when nothing is left.
    """
    from privaudit.attacks import build_attack
    from privaudit.signals import SIGNALS

    if config.attacks is None:
        return None, []
    specs, skipped = [], []
    for spec in config.attacks:
        entry = {"name": spec} if isinstance(spec, str) and spec not in SIGNALS and "[" not in spec else spec  # display names build as they are
        attack = build_attack(entry)
        if attack.needs.reference:
            if config.reference is None:
                raise ConfigError(f"attacks: '{attack.display_name}' needs reference models; add a reference block (models, mode) to the sweep config")
            if isinstance(entry, dict) and "mode" not in entry and "mode" in attack.get_params():
                entry = {**entry, "mode": config.reference.mode}
                attack = build_attack(entry)
        # label-only query attacks declare no one-query signals: theirs come from perturbed queries
        if output_kind == "labels" and any(SIGNALS.get(s).needs != "labels" for s in attack.needs.signals):
            skipped.append(attack.display_name)
            continue
        specs.append(entry)
    return (specs or ["correctness"]), skipped


def check_setting(setting: ResolvedSetting, config, n_members: int, n_classes: int) -> None:
    """User mistakes that would otherwise surface only after earlier settings trained."""
    where = f"settings '{setting.name}'"
    dp = setting.training.dp
    if dp is not None:
        require("opacus", "dp")
        try:
            dp.check_training_size(n_members)
            if config.reference is not None and config.reference.mode == "offline":
                dp.check_training_size(config.reference.train_size or n_members)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    defence = setting.output_defence or {}
    if defence.get("top_k") is not None and defence["top_k"] > n_classes:
        raise ConfigError(f"{where}.output_defence.top_k: {defence['top_k']} but the data has {n_classes} classes; use top_k ≤ {n_classes}")


def check_augmented(specs: list, records) -> None:
    """Refuse an attack's ``augment`` that the sweep's records cannot take (tabular records, too many copies) before any training."""
    from privaudit.attacks import build_attack
    from privaudit.exceptions import CapabilityError

    for spec in specs:
        attack = build_attack(spec)
        for augmentations in attack.needs.augmentations:
            try:
                augmentations.check(records)
            except (CapabilityError, ConfigError) as exc:
                raise type(exc)(f"attacks: '{attack.display_name}': {exc}") from None
