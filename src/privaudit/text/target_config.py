"""The ``causal_lm`` target type: a local language model audited on texts (config class and loader).

Example target entry of an audit config (paths relative to the config)::

    targets:
      - name: my-lm
        type: causal_lm
        path: my-model/            # a Hugging Face folder (config.json, *.safetensors, tokenizer) or a .gguf file
        max_length: 64             # tokens per text (default 128, or the model's positions if fewer)
        batch_size: 16
        reference: base-model/     # optional: a second local LM for the 'reference' attack
        canaries:                  # optional: canaries coin-flipped into the training data
          path: canaries.jsonl     # {"prefix": ..., "secret": ..., "suffix": ..., "inserted": true/false} per line
          repetitions: 4           # copies of each inserted canary
          n_candidates: 100

The model is loaded only by :func:`load_causal_lm_targets` (transformers is
imported then, not when the config is read), never with remote code and
from safetensors or GGUF weights only (:func:`privaudit.text.causal_lm.load_causal_lm`).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field, model_validator

from privaudit.config_loading import StrictModel
from privaudit.targets.config_base import TargetConfigBase
from privaudit.targets.types import register_target_type

__all__ = ["CausalLMTargetConfig", "CanaryFileConfig", "load_causal_lm_target", "load_causal_lm_targets", "check_text_audit_config", "is_text_audit",
           "check_causal_lm_files"]


class CanaryFileConfig(StrictModel):
    """Canaries of a causal_lm target: a JSON Lines file and how they were inserted (:func:`privaudit.text.canary_audit.audit_canaries`)."""

    path: str
    repetitions: int = Field(ge=1)
    n_candidates: int = Field(default=100, ge=2, le=100_000)
    alphabet: str = Field(default="0123456789", min_length=2)
    #: also compute the skew-normal exposure estimate (about 0.1–0.3 s per canary; needs n_candidates ≥ 10)
    extrapolate: bool = True

    @model_validator(mode="after")
    def _enough_candidates_to_extrapolate(self):
        if self.extrapolate and self.n_candidates < 10:
            raise ValueError(f"n_candidates {self.n_candidates}: the skew-normal exposure estimate needs at least 10 candidates; "
                             "give n_candidates: 10 or more, or extrapolate: false")
        return self


class CausalLMTargetConfig(TargetConfigBase):
    """A local causal language model (``type: causal_lm``); see the module docstring.

    It reads texts, not feature columns, and trains no reference models (``reference`` is a second local LM).
    """

    reads_features: ClassVar[bool] = False

    type: Literal["causal_lm"]
    path: str = Field(min_length=1)
    reference: str | None = Field(default=None, min_length=1)
    max_length: int | None = Field(default=None, ge=2)
    batch_size: int = Field(default=16, ge=1, le=4096)
    max_batch_tokens: int = Field(default=4096, ge=2)
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    device: str = Field(default="cpu", pattern=r"^(cpu|cuda(:[0-9]+)?|mps)$")
    canaries: CanaryFileConfig | None = None


def is_text_audit(config) -> bool:
    """True when an :class:`~privaudit.config.AuditConfig`'s targets are language models (a text audit)."""
    return any(t.type == "causal_lm" for t in config.targets)


def check_text_audit_config(config) -> None:
    """Keys that a text audit (``causal_lm`` targets) and a tabular audit exclude; raises ValueError (pydantic makes it one line).

    A text audit: one ``causal_lm`` target, no ``data.label``, ``features``,
    ``classes``, ``membership.population`` or ``groups``, text attacks only.
    Any other audit: ``data.label`` given, no ``data.text_column``.
    """
    kinds = {t.type == "causal_lm" for t in config.targets}
    if kinds == {True, False}:
        raise ValueError("causal_lm targets audit texts and other targets audit records: put them in separate configs")
    d = config.data
    if True not in kinds:
        if d.label is None:
            raise ValueError("data: missing required key 'data.label' (the label column)")
        if d.text_column is not None:
            raise ValueError("data.text_column applies to causal_lm targets (texts) only; remove it")
        return
    if len(config.targets) > 1:
        raise ValueError(f"a text audit takes one causal_lm target (with an optional reference model), got {len(config.targets)}; "
                         "write one config per language model")
    given = [key for key, value in (("data.label", d.label), ("data.features", d.features), ("data.classes", d.classes),
                                    ("data.membership.population", d.membership.population), ("groups", config.groups)) if value is not None]
    if given:
        raise ValueError(f"a text audit (causal_lm targets) has no {', '.join(given)}; remove {'it' if len(given) == 1 else 'them'} "
                         "(data.text_column names the texts' column, default 'text')")
    from privaudit.exceptions import ConfigError
    from privaudit.text.attacks import build_text_attack

    for index, spec in enumerate(config.attacks or ()):
        try:
            build_text_attack(spec)
        except (ConfigError, TypeError, ValueError) as exc:
            raise ValueError(f"attacks: entry {index}: {exc}") from None


def check_causal_lm_files(config: CausalLMTargetConfig, base_dir: str | Path) -> None:
    """Raise :class:`~privaudit.exceptions.ConfigError` naming ``targets.NAME.KEY`` when the model, reference model or canary file is not there.

    Checked before anything loads, so the line names the config key (the loaders only know a path).
    """
    from privaudit.exceptions import ConfigError

    base_dir = Path(base_dir)
    entries = [("path", config.path), ("reference", config.reference), ("canaries.path", None if config.canaries is None else config.canaries.path)]
    for key, given in entries:
        if given is not None and not (base_dir / given).exists():
            hint = "a text file of canaries (JSON Lines)" if key == "canaries.path" else "a Hugging Face causal-LM folder or a .gguf file"
            raise ConfigError(f"targets.{config.name}.{key}: {given} not found (paths are relative to the config file); give {hint}")


def load_causal_lm_targets(config: CausalLMTargetConfig, base_dir: str | Path):
    """``(target, reference or None)``: :class:`privaudit.text.causal_lm.CausalLMTarget` objects for the config's models.

    The reference model is named after its folder or file (``reference:``
    path's last part without ``.gguf``).
    """
    from privaudit.text.causal_lm import CausalLMTarget, load_causal_lm

    base_dir = Path(base_dir)
    check_causal_lm_files(config, base_dir)

    def build(path: str, name: str):
        model, tokenizer = load_causal_lm(base_dir / path, device=config.device, dtype=config.dtype)
        return CausalLMTarget(model, tokenizer, name=name, max_length=config.max_length, batch_size=config.batch_size,
                              max_batch_tokens=config.max_batch_tokens, device=config.device)

    target = build(config.path, config.name)
    reference = None
    if config.reference is not None:
        reference_path = Path(config.reference)
        reference = build(config.reference, reference_path.stem if reference_path.suffix == ".gguf" else reference_path.name or "reference")
    return target, reference


@register_target_type(CausalLMTargetConfig)
def load_causal_lm_target(spec: dict, base_dir: str | Path, name: str):
    """The registry's loader: the audited :class:`~privaudit.text.causal_lm.CausalLMTarget` of a ``causal_lm`` entry (its reference model is loaded by :func:`load_causal_lm_targets`)."""
    fields = {key: value for key, value in spec.items() if key != "trust_code"}  # load_target adds it; a language model names no code
    config = CausalLMTargetConfig.model_validate({**fields, "name": name, "reference": None})
    return load_causal_lm_targets(config, base_dir)[0]
