"""How a user names an attack: one resolver for every command that picks attacks of a report or a config.

An attack is shown by its display name, e.g. ``rmia[online,confidence]`` or
``threshold[loss]``. A user may give that name (:func:`privaudit.attacks.build_attack` builds any
of the :func:`standard_variants` from it, so a name copied from a report
works in a config, ``check --attack`` or a sweep), or a short name: the part
before the bracket (``rmia``), or for a threshold attack its signal
(``loss``, as in a config's ``attacks: [loss]``). A short name must match
exactly one of the attacks available; otherwise the error lists them.

>>> resolve_attack_name("rmia", ["threshold[loss]", "rmia[online,confidence]"])
'rmia[online,confidence]'
>>> resolve_attack_name("loss", ["threshold[loss]", "classwise_threshold[loss]"])
'threshold[loss]'
"""

from __future__ import annotations

from typing import Iterable

from privaudit.exceptions import UnknownNameError

__all__ = ["short_names", "resolve_attack_name", "standard_variants", "configured_attack"]


def short_names(display_name: str) -> tuple[str, ...]:
    """The short names a display name answers to: its base name, and a threshold attack's signal.

    >>> short_names("threshold[loss]")
    ('threshold', 'loss')
    >>> short_names("lira[offline,logit_confidence]")
    ('lira',)
    """
    base, bracket, rest = display_name.partition("[")
    names = [base]
    if base == "threshold" and bracket and rest.endswith("]") and "," not in rest:
        names.append(rest[:-1])
    return tuple(names)


def resolve_attack_name(name: str, available: Iterable[str], *, field: str = "--attack", where: str = "the report") -> str:
    """The one display name in ``available`` that ``name`` means.

    Parameters
    ----------
    name : str
        An exact display name, or a short name (:func:`short_names`).
    available : iterable of str
        Display names of the attacks there are (duplicates allowed, e.g. one per target).
    field, where : str
        For the error: the option or key the name came from, and what holds the attacks.

    Raises
    ------
    UnknownNameError
        One line: no attack of that name, or a short name matching several
        variants; either way it lists the names that would work.
    """
    names = list(dict.fromkeys(str(a) for a in available))
    if name in names:
        return name
    matches = [a for a in names if name in short_names(a)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise UnknownNameError(f"{field} '{name}' matches {len(matches)} attacks in {where}: {', '.join(matches)}; name one of them exactly")
    raise UnknownNameError(f"{field} '{name}': no such attack in {where}; attacks there: {', '.join(sorted(names)) or 'none'}")


def standard_variants() -> dict:
    """Display name → a new attack, for every variant privaudit's default audits run.

    Threshold and class-wise threshold attacks on each signal, and the
    reference attacks (LiRA, RMIA, calibrated loss) in each mode with their
    default parameters, and LiRA with the global variance (the name its default
    reports when it resolves ``variance: auto`` to it). Other parameter values are given as a config mapping
    (``{name: lira, variance: global}``).
    """
    from privaudit.attacks.base import ATTACKS
    from privaudit.signals import SIGNALS

    variants = [ATTACKS.get("threshold")(signal=s) for s in SIGNALS.names()]
    variants += [ATTACKS.get("classwise_threshold")(signal=s) for s in SIGNALS.names() if SIGNALS.get(s).needs == "probabilities"]
    variants += [ATTACKS.get(name)(mode=mode) for name in ("lira", "rmia", "reference_calibrated_loss") for mode in ("online", "offline")]
    # LiRA's default (variance auto) is reported as ``lira[<mode>,global variance,…]`` below PER_EXAMPLE_MIN_MODELS
    # models per side: that name must build what it computed, the global variance
    variants += [ATTACKS.get("lira")(mode=mode, variance="global") for mode in ("online", "offline")]
    return {attack.display_name: attack for attack in variants}


def configured_attack(name, configured):
    """What ``check --attack NAME`` means given the config's ``attacks:`` list.

    A short name (``rmia``) or exact display name that matches one configured
    entry gives that entry, with its parameters (``{name: rmia, gamma: 2}``), its
    mode left to check (offline, :func:`privaudit.record_check.check_attack`); several matches are one
    line listing them (:func:`resolve_attack_name`); a
    name the config does not list is returned as given.

    >>> configured_attack("rmia", ["loss", {"name": "rmia", "mode": "online", "gamma": 2.0}])
    {'name': 'rmia', 'gamma': 2.0}
    >>> configured_attack("lira", ["loss"])
    'lira'
    >>> configured_attack("loss", ["loss", "rmia[online,confidence]"])
    {'name': 'threshold', 'signal': 'loss'}
    """
    if not isinstance(name, str) or not configured:
        return name
    from privaudit.attacks import build_attack

    entries = {build_attack(spec).display_name: spec for spec in configured}
    matching = [display for display in entries if name == display or name in short_names(display)]
    if not matching:
        return name
    spec = entries[resolve_attack_name(name, matching, where="the config's attacks")]
    if isinstance(spec, str):  # a signal ("loss") or display name is no registered name: spell out the attack it builds
        built = build_attack(spec)
        spec = {"name": type(built).name, **built.get_params()}
    else:
        spec = dict(spec)
    spec.pop("mode", None)  # check runs reference attacks offline; the rest keep their parameters
    return spec
