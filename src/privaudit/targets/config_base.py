"""What every target's config holds, and the blocks a classifier target may carry (reference models, output defence).

Each target type has its own config class beside its loader (``targets/sklearn.py``
holds :class:`~privaudit.targets.sklearn.SklearnTargetConfig`, ...), a subclass of
:class:`TargetConfigBase` with ``type: Literal["its name"]``. The loader is registered
with that class (:func:`privaudit.targets.types.register_target_type`), and
:mod:`privaudit.config` builds the discriminated union on ``type`` from the registry,
so a new target type is one file plus a registry line.

A key of another target type (``url`` on an sklearn target) is refused with one line
naming the key, the target and its type, instead of being ignored.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from privaudit.config_loading import StrictModel

__all__ = [
    "TargetConfigBase", "ClassifierTargetConfig", "ReferenceConfig", "OutputDefenceConfig", "TrainingRecipeConfig", "DPTrainingConfig",
    "TARGET_NAME_PATTERN", "BOOLEAN_CLASS_NAMES_HINT", "refuse_boolean_class_names",
]

#: target names appear in file names and report keys
TARGET_NAME_PATTERN = r"^[A-Za-z0-9_.\-]+$"

BOOLEAN_CLASS_NAMES_HINT = "YAML read some class names as booleans (unquoted yes/no/on/off/true/false); quote your class names, e.g. ['no', 'yes']"


def refuse_boolean_class_names(value: Any) -> Any:
    """Raise ``ValueError`` (one line: quote your class names) when a list where class names go holds YAML booleans."""
    if isinstance(value, list) and any(isinstance(v, bool) for v in value):
        raise ValueError(BOOLEAN_CLASS_NAMES_HINT)
    return value


class DPTrainingConfig(StrictModel):
    """DP-SGD through Opacus (extra ``privaudit[dp]``); see :class:`privaudit.models.DPConfig`.

    δ must also be below 1/n for n training records; that is checked when a model trains.
    """

    target_epsilon: float = Field(gt=0, allow_inf_nan=False)
    delta: float = Field(gt=0, lt=1)
    max_grad_norm: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    accountant: Literal["rdp", "prv", "gdp"] = "rdp"


class TrainingAugmentConfig(StrictModel):
    """Random flips and shifts of image records while training (``training: {augment: {image_shape: [1, 28, 28], flip: true, shift: 1}}``)."""

    image_shape: list[int] = Field(min_length=3, max_length=3)
    flip: bool = True
    shift: int = Field(default=0, ge=0)


class TrainingRecipeConfig(StrictModel):
    """How a torch reference model is trained (Adam on cross-entropy; see privaudit.models.TrainingConfig).

    Regularisation: ``weight_decay``, ``label_smoothing`` here; dropout is the
    factory's (``factory_kwargs: {dropout: 0.2}`` for ``build_mlp``). Reference
    models train a fixed number of ``epochs`` — no early stopping: give the epochs
    an early-stopped target actually ran. ``dp`` trains them with DP-SGD.
    """

    epochs: int = Field(default=100, ge=1)
    batch_size: int = Field(default=128, ge=1)
    learning_rate: float = Field(default=1e-3, gt=0)
    weight_decay: float = Field(default=0.0, ge=0)
    label_smoothing: float = Field(default=0.0, ge=0, lt=1)
    dp: DPTrainingConfig | None = None
    #: image records: random flips/shifts per minibatch, like a target trained with them (privaudit.models.ImageAugmentation)
    augment: TrainingAugmentConfig | None = None

    def to_training_config(self):
        """The :class:`privaudit.models.TrainingConfig` this recipe describes."""
        from privaudit.models import DPConfig, ImageAugmentation, TrainingConfig

        values = self.model_dump(exclude={"dp", "augment"})
        augment = None if self.augment is None else ImageAugmentation(tuple(self.augment.image_shape), self.augment.flip, self.augment.shift)
        return TrainingConfig(**values, dp=None if self.dp is None else DPConfig(**self.dp.model_dump()), augment=augment)


class OutputDefenceConfig(StrictModel):
    """Post-processing of a target's answers (see :class:`privaudit.targets.OutputDefenceTarget`).

    Applied in this order: ``temperature`` (> 0), ``top_k`` (keep the k
    largest probabilities, renormalised), ``round`` (decimals, renormalised);
    or ``labels_only`` alone (the predicted class, nothing else).
    """

    top_k: int | None = Field(default=None, ge=1)
    round: int | None = Field(default=None, ge=0, le=15)
    temperature: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    labels_only: bool = False

    @model_validator(mode="after")
    def _something_and_consistent(self):
        from privaudit.targets.output_defence import OutputDefence

        OutputDefence(top_k=self.top_k, round=self.round, temperature=self.temperature, labels_only=self.labels_only)  # raises ConfigError
        return self


class ReferenceConfig(StrictModel):
    """Reference models trained like a target (for LiRA, RMIA, calibrated loss, shadow models).

    ``train_size``: records each model trains on at most — a number, or ``members``
    (as many as the target's members, its training size). ``mode: auto``: offline
    when the population holds at least twice ``train_size`` records, else online; the
    run says which it chose (:func:`privaudit.reference.plan.resolve_reference_size`).
    ``--reference-models N`` on a target without a block uses ``{models: N, mode: auto, train_size: members}``.
    ``outputs: refs.npz``: reference models trained elsewhere, their outputs and training masks read from the
    file (:mod:`privaudit.reference.precomputed`) instead of training any; the count and design come from the file.
    """

    models: int = Field(default=16, ge=1)
    mode: Literal["online", "offline", "auto"] = "online"
    fraction: float = Field(default=0.5, gt=0, lt=1)
    train_size: int | Literal["members"] | None = None
    include_population: bool = True
    estimator: str | None = None
    training: TrainingRecipeConfig | None = None
    outputs: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _file_or_training(self):
        """With ``outputs`` the file says everything; a training key beside it would be silently ignored, so it is refused."""
        if self.outputs is not None:
            given = sorted(set(self.model_fields_set) - {"outputs"})
            if given:
                raise ValueError(f"reference.outputs gives models trained elsewhere (their count and keep masks are in the file), "
                                 f"so {', '.join(given)} does not apply; remove {'it' if len(given) == 1 else 'them'}")
        return self

    @field_validator("train_size", mode="before")
    @classmethod
    def _a_number_or_members(cls, value):
        """One message for both forms (pydantic would report each branch of the union)."""
        if value is None or value == "members" or (isinstance(value, int) and not isinstance(value, bool) and value >= 2):
            return value
        raise ValueError(f"give a whole number of records (at least 2) or 'members' (as many as the target's members), not {value!r}")


class TargetConfigBase(StrictModel):
    """Keys every target type has: ``name`` and ``type``; subclasses set ``type: Literal["their name"]``.

    Class attributes a subclass sets (read by the pipeline instead of testing type names):

    * ``reference_recipe``: the key of the ``reference`` block that says how reference
      models are trained — ``"estimator"`` (a skops file; scikit-learn targets default
      to a clone of their own model) or ``"training"`` (a torch recipe); the other key is
      refused. ``None``: the type trains no reference models (``--reference-models`` refuses it);
    * ``reference_recipe_required``: whether that key must be given (a model privaudit cannot clone);
    * ``reads_features``: whether the target answers from the data's feature columns
      (``False`` for precomputed outputs, which need only the ids).

    A key that belongs to another registered type is refused naming the key, the target and its type.
    """

    name: str = Field(min_length=1, pattern=TARGET_NAME_PATTERN)
    type: str

    reference_recipe: ClassVar[Literal["estimator", "training"] | None] = None
    reference_recipe_required: ClassVar[bool] = True
    reads_features: ClassVar[bool] = True

    @model_validator(mode="before")
    @classmethod
    def _no_keys_of_other_types(cls, values):
        """A key that another target type has (``url`` on an sklearn target) gets a line naming the key, the target and its type."""
        if not isinstance(values, dict):
            return values
        from privaudit.targets.types import TARGET_TYPES

        own = list(cls.model_fields)
        name = values.get("name", "?")
        for key in values:
            if key in own or not isinstance(key, str):
                continue
            owners = [t for t in TARGET_TYPES.names() if key in TARGET_TYPES.get(t).config.model_fields]
            if owners:
                raise ValueError(
                    f"'{key}' is a key of {' and '.join(owners) if len(owners) < 3 else ', '.join(owners[:-1]) + ' and ' + owners[-1]} targets, not of {values.get('type')} target '{name}': "
                    f"remove it, or change the target's type; {values.get('type')} targets take: {', '.join(own)}"
                )
        return values

    def missing_reference_recipe(self) -> str:
        """The one-line complaint for reference models without the recipe this type needs (names the config key)."""
        if self.reference_recipe is None:
            return f"target '{self.name}': a {self.type} target trains no reference models"
        key = f"targets.{self.name}.reference.{self.reference_recipe}"
        if self.reference_recipe == "training":
            return f"target '{self.name}': reference models of a {self.type} target need {key} (epochs, batch_size, learning_rate, ...)"
        return (f"target '{self.name}': a {self.type} target cannot be retrained, so its reference models need {key}: "
                "a skops file of an estimator trained like it (or reference.outputs: an .npz of reference models' outputs trained elsewhere)")


class ClassifierTargetConfig(TargetConfigBase):
    """A target answering class outputs for records (sklearn, torch, precomputed, http): adds
    ``trusted_types``, ``reference`` (reference models trained like it) and ``output_defence``."""

    #: skops types (``module.Class``) outside privaudit's allow-list that may load: the model, its transform, reference.estimator and saved reference models
    trusted_types: list[str] | None = None
    reference: ReferenceConfig | None = None
    output_defence: OutputDefenceConfig | None = None

    reference_recipe: ClassVar[Literal["estimator", "training"] | None] = "estimator"

    @model_validator(mode="after")
    def _reference_recipe_fits_the_type(self):
        ref = self.reference
        if ref is None or ref.outputs is not None:  # outputs: models trained elsewhere, no recipe needed
            return self
        other = "training" if self.reference_recipe == "estimator" else "estimator"
        if getattr(ref, other) is not None:
            fix = ("its reference models are clones of its estimator (or of reference.estimator)" if other == "training"
                   else "its reference models train with reference.training")
            raise ValueError(f"target '{self.name}' ({self.type}): reference.{other} does not apply to a {self.type} target, {fix}; remove reference.{other}")
        if self.reference_recipe_required and getattr(ref, self.reference_recipe) is None:
            raise ValueError(self.missing_reference_recipe())
        return self
