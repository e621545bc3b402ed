"""Online record checks (``privaudit check --mode online``): reference models trained around the checked records.

An offline check scores every record against reference models none of them
trained; an online check trains models in which each checked record is IN a
seeded random half, so the attack can compare the target with models that
did and did not see the record — the online statistics of LiRA (Carlini et
al. 2022, Algorithm 1, eq. 4: ``log N(φ; μ_in, σ_in²) − log N(φ; μ_out, σ_out²)``)
and RMIA (Zarifzadeh et al. 2024, eq. 3 with Pr(x) averaged over all
reference models, IN and OUT).

Validity. The null records (real non-members) are put in the *same* design
as the checked records (:func:`~privaudit.reference.check_design.check_online_design`):
each IN a random half of the same models, trained on at most the target's
training size. A checked non-member drawn like the null records is then
exchangeable with them, and the conformal p-value
``(1 + #{null ≥ s}) / (1 + n_null)`` is valid exactly as offline. The power
is measured on a seeded sample of members placed in the design the same way.

Cost. The models depend on the checked records: checking other records
trains new models (a rerun of the same check reuses every stored one, the
store keys being content keys of each model's training records, recipe and
seed). The fabricated null is refused: its profiles would have to be trained
into the reference models like the checked records, and the real null
already is.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from privaudit.exceptions import CapabilityError, ConfigError

__all__ = ["CHECK_MODES", "OnlineScores", "online_check_attack", "strongest_online_attack", "score_online", "online_parts", "LIRA_ONLINE_MIN_MODELS"]

CHECK_MODES = ("offline", "online")

#: reference models from which online LiRA is the default (Carlini et al. 2022 use ≥ 16 per side pair; RMIA is built for few models)
LIRA_ONLINE_MIN_MODELS = 16


def strongest_online_attack(n_models: int, *, has_population: bool) -> tuple[dict, str]:
    """The attack an online check runs when none is named, and why: ``(spec, reason)``.

    Online LiRA with ≥ :data:`LIRA_ONLINE_MIN_MODELS` models (Carlini et al. 2022 fit per-record IN and OUT
    Gaussians, which needs many models); else online RMIA (Zarifzadeh et al. 2024: strong with few models)
    when population records give it its z; else online LiRA with the pooled ("global") variance the paper
    recommends for few models. Measured on the demo's overfit MLP with 16 models (BENCHMARKS.md, "Record
    check: offline vs online"): online LiRA 28.8–32.5 % power at α = 0.05, online RMIA on the same models 20.4–22.5 %.
    """
    if n_models >= LIRA_ONLINE_MIN_MODELS:
        return {"name": "lira", "mode": "online"}, (f"{n_models} reference models (≥ {LIRA_ONLINE_MIN_MODELS}): online LiRA fits each record's "
                                                    "IN and OUT Gaussians, the strongest single-query test with that many models (Carlini et al. 2022)")
    if has_population:
        return {"name": "rmia", "mode": "online"}, (f"{n_models} reference models (< {LIRA_ONLINE_MIN_MODELS}, too few for per-record LiRA "
                                                    "Gaussians): online RMIA, built for few models (Zarifzadeh et al. 2024)")
    return {"name": "lira", "mode": "online", "variance": "global"}, (
        f"{n_models} reference models and no population records for RMIA: online LiRA with the pooled variance "
        "Carlini et al. recommend for few models")


def online_check_attack(attack, reference, *, has_population: bool):
    """Build an online check's attack and plan: ``(attack, plan in online mode, reason)``.

    ``reason``: why the attack was chosen when ``attack`` is None (the default), else None. The caller
    words the note after scoring, when the attack's display name shows what ran (LiRA's ``auto``
    variance resolves only then).

    Only reference attacks with a mode (``lira``, ``rmia``, ``reference_calibrated_loss``) run online.
    """
    from privaudit.attacks import ATTACKS, build_attack

    if reference is None:
        raise CapabilityError("--mode online trains reference models around the checked records: add a 'reference' block to the target "
                              "in the config (models, and for torch targets a training recipe), or check with --mode offline")
    if getattr(reference, "precomputed", None) is not None:  # refused before the design is drawn and announced
        raise CapabilityError(f"{reference.field}.outputs: --mode online trains reference models with the checked records inside, which "
                              "outputs from a file cannot answer; check with --mode offline, or use reference models privaudit trains "
                              "(reference.estimator or reference.training)")
    reason = None
    if attack is None:
        attack, reason = strongest_online_attack(reference.n_models, has_population=has_population)
    if isinstance(attack, str) and attack in ATTACKS:
        attack = {"name": attack}
    if isinstance(attack, dict):
        if attack.get("mode", "online") != "online":
            raise ConfigError(f"attack '{attack.get('name')}' has mode: {attack['mode']}, but --mode online scores records with online reference "
                              "models; drop the attack's mode or check with --mode offline")
        attack = {**attack, "mode": "online"} if attack.get("name") in ATTACKS and _has_mode(attack["name"]) else attack
    attack = build_attack(attack) if isinstance(attack, (str, dict)) else attack
    if not attack.needs.reference or getattr(attack, "mode", None) != "online":
        raise ConfigError(f"attack '{attack.display_name}' uses no online reference models; --mode online runs lira, rmia or "
                          "reference_calibrated_loss (or leave out --attack): drop --mode online for this attack")
    return attack, replace(reference, mode="online"), reason


def _has_mode(name: str) -> bool:
    import inspect

    from privaudit.attacks import ATTACKS

    return "mode" in inspect.signature(ATTACKS.get(name)).parameters


@dataclass
class OnlineScores:
    """Scores of an online check's parts (higher = member-like) and what the reference engine did.

    ``checked`` ``(m,)``; ``members`` ``(n_power,)`` with ``member_ids``; ``null`` ``(n_null,)`` with
    ``null_ids``; ``log_likelihood_ratios`` ``{"checked", "members", "real"}`` or None; ``info``: mode, pool
    sizes, n_models, models trained / reused, backend, the design sentence.
    """

    checked: np.ndarray
    members: np.ndarray
    null: np.ndarray
    null_ids: np.ndarray
    member_ids: np.ndarray
    log_likelihood_ratios: dict | None
    info: dict


def score_online(target, data, attack, records, plan, *, seed: int, progress=None, groups=None, n_null: int | None = None,
                 n_power: int | None = None) -> OnlineScores:
    """Train (or reuse) the online check's reference models and score checked, null and power records in one pass.

    ``plan``: the target's :class:`~privaudit.reference.plan.ReferencePlan` (its recipe, n_models, store and
    backend; the design is :func:`~privaudit.reference.check_design.check_online_design`'s, each model on at
    most as many records as ``data`` has members). ``groups``, ``n_null``, ``n_power``: passed to the design.
    """
    from privaudit.pipeline import score_parts
    from privaudit.reference.check_design import check_online_design

    m = int(data.members.size)
    design = check_online_design(records, data, plan.n_models, seed=seed, train_size=m, n_null=n_null, n_power=n_power, groups=groups)
    plan = replace(plan, mode="online", train_size=m, choice=design.how)
    parts = [records, design.pool.subset(design.null), design.pool.subset(design.power)]
    if not attack.needs.any_population:  # online LiRA reads no population record: neither target nor models query them
        data = replace(data, population=np.empty(0, dtype=np.intp))
    scored, ratios, engine = score_parts(target, data, attack, dict(zip(("checked", "real", "members"), parts)), plan=plan, seed=seed,
                                         progress=progress, reference_design=(design.pool, design.keep))
    checked, null, members = scored["checked"], scored["real"], scored["members"]
    engine = engine or {}
    info = {"mode": "online", "n_models": plan.n_models, **design.sizes(), "model_sizes": [int(design.model_sizes.min()), int(design.model_sizes.max())],
            "trained": engine.get("trained"), "reused": engine.get("reused"), "backend": engine.get("backend"), "design": design.how}
    return OnlineScores(checked, members, null, np.asarray(design.pool.ids[design.null]), np.asarray(design.pool.ids[design.power]), ratios, info)


def online_parts(target, data, attack, records, reference, notes: list[str], *, mode: str, null: str, seed: int, progress=None, person_ids=None):
    """Validate ``mode``/``null``, then :func:`online_check_attack` and :func:`score_online`, in the form ``check_records`` reads.

    ``person_ids`` (person of each checked record, with ``data.person_ids``): a person-level design (whole
    persons IN or OUT, null and power drawn as whole persons). Returns ``(attack, {"checked", "members", "real"}
    scores, their log likelihood ratios or None, null record ids, power record ids, info)``; the design sentence
    goes into ``notes``.
    """
    if mode not in CHECK_MODES or null != "real":
        raise ConfigError(f"check mode '{mode}' with null '{null}': modes are offline and online, and an online check takes the real null only "
                          "(fabricated profiles would have to be trained into the reference models too); use --null real")
    attack, plan, reason = online_check_attack(attack, reference, has_population=bool(data.population.size))
    online = score_online(target, data, attack, records, plan, seed=seed, progress=progress, groups=person_ids)
    if reason is not None:  # after scoring: the display name shows the variance LiRA's ``auto`` chose
        notes.append(f"attack {attack.display_name} was chosen by default: {reason}")
    notes.append(online.info["design"])
    scores = {"checked": online.checked, "members": online.members, "real": online.null}
    return attack, scores, online.log_likelihood_ratios, online.null_ids, online.member_ids, online.info
