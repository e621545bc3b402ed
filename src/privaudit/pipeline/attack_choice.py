"""Which attacks run when the user names none: :func:`default_attacks` (an audit runs every one that applies)
and :func:`strongest_check_attack` (a record check runs one, the strongest the config supports)."""

from __future__ import annotations

from privaudit.attacks import ThresholdAttack, build_attack
from privaudit.signals import SIGNALS

__all__ = ["default_attacks", "strongest_check_attack", "build_attacks", "MIN_MODELS_TO_TUNE_RMIA", "rmia_tunable"]


def build_attacks(specs) -> list:
    """Attack objects from config entries (names, dicts) or attack objects (passed through)."""
    return [build_attack(a) if isinstance(a, (str, dict)) else a for a in specs]


#: offline RMIA tunes offline_a with one reference model playing the target and the others as references
MIN_MODELS_TO_TUNE_RMIA = 2


def rmia_tunable(reference_mode: str, n_reference_models: int | None) -> bool:
    """Whether RMIA can run with its defaults: online, or offline with enough models to tune ``offline_a`` (None: not known yet)."""
    return reference_mode == "online" or n_reference_models is None or n_reference_models >= MIN_MODELS_TO_TUNE_RMIA


def default_attacks(output_kind: str, has_population: bool, reference_mode: str | None = None, *, features=None,
                    n_reference_models: int | None = None) -> list:
    """Every threshold attack the target's outputs allow, class-wise LOSS when a population exists,
    and with reference models (``reference_mode`` "online"/"offline") LiRA, RMIA and calibrated loss in that mode.

    Offline RMIA tunes its ``offline_a`` on the reference models (one plays the target), so with fewer than
    :data:`MIN_MODELS_TO_TUNE_RMIA` of them (``n_reference_models``) it is left out of the defaults; name it with
    a fixed ``offline_a`` to run it anyway.

    A label-only target gets ``correctness`` and, when ``features`` (the audited records' feature table, for a
    target that can answer perturbed copies) allow, the label-only query attacks
    (:func:`privaudit.attacks.label_only.label_only_attacks_for`), and with reference models the flip distance
    calibrated on them (:func:`privaudit.attacks.label_flip.calibrated_flip_attacks_for`)."""
    if output_kind == "labels":
        from privaudit.attacks.label_flip import calibrated_flip_attacks_for
        from privaudit.attacks.label_only import label_only_attacks_for

        return [ThresholdAttack(signal="correctness"), *label_only_attacks_for(features), *calibrated_flip_attacks_for(features, reference_mode)]
    attacks = [ThresholdAttack(signal=name) for name in SIGNALS.names() if SIGNALS.get(name).needs == "probabilities"]
    if has_population:
        attacks.append(build_attack({"name": "classwise_threshold", "signal": "loss"}))
    if reference_mode is not None:
        attacks.append(build_attack({"name": "lira", "mode": reference_mode}))
        if has_population and rmia_tunable(reference_mode, n_reference_models):
            attacks.append(build_attack({"name": "rmia", "mode": reference_mode}))
        attacks.append(build_attack({"name": "reference_calibrated_loss", "mode": reference_mode}))
    return attacks


def strongest_check_attack(output_kind: str, *, has_population: bool, has_reference: bool) -> tuple[dict | str, str]:
    """The attack ``privaudit check`` runs when none is named, and why: ``(spec, reason)``.

    The rule, in order (measured with ``benchmarks/bench_check_default.py`` on the demo data,
    ``BENCHMARKS.md``, "Record check: default attack"; power = share of members with p ≤ 0.05):

    1. a label-only target: ``correctness`` (the only one-query signal it gives);
    2. a reference block and population records: offline RMIA (demo: 15.5 % and
       12.2 % power with 16 reference models, vs 5.9 % for LOSS);
    3. population records: ``classwise_threshold`` on the loss (demo: 6.3–7.3 %,
       never below the best global threshold attack);
    4. otherwise: the LOSS threshold attack.
    """
    if output_kind == "labels":
        return "correctness", "the target answers labels only, so correctness is the only one-query signal"
    if has_reference and has_population:
        return {"name": "rmia", "mode": "offline"}, ("the target has a reference block and the data has population records: offline RMIA "
                                                     "is the strongest attack check supports")
    if has_population:
        return ({"name": "classwise_threshold", "signal": "loss"},
                "no reference block, but population records: class-wise LOSS thresholds are the strongest attack without reference models "
                "(add a reference block to the target for RMIA)")
    return "loss", "no population records and no reference block: the LOSS threshold attack (add population records for class-wise thresholds)"
