"""Step 1 of every run: from a validated config to what the run needs (:func:`load_inputs`).

One loader for ``privaudit audit`` (:func:`~privaudit.pipeline.run_audit`),
``privaudit check`` (:func:`privaudit.record_input.check_inputs`) and
``privaudit sweep`` (:func:`load_data` for its data block). Paths in the
config are relative to ``base_dir`` (the config's folder).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from privaudit.data import AuditData
from privaudit.exceptions import DataError

__all__ = ["AuditInputs", "load_inputs", "load_data", "group_table", "check_membership_randomized", "RANDOMIZED_SPLIT_MIN_P"]

#: ``membership_randomized`` is refused when a fair-coin split this uneven has a two-sided p-value below this.
RANDOMIZED_SPLIT_MIN_P = 1e-3


@dataclass
class AuditInputs:
    """What a config provides to a run: the data, loaded targets, reference plans by target name, group labels."""

    data: AuditData
    targets: list
    #: target name → :class:`~privaudit.reference.plan.ReferencePlan`, for targets with a ``reference`` block
    plans: dict = field(default_factory=dict)
    #: slicing name → group label of each audited record (members then non-members), or None
    groups: dict | None = None


def load_data(data_config, base_dir: str | Path, *, require_features: bool = True) -> AuditData:
    """Records and membership sets that a config's ``data`` block names (:func:`privaudit.data.load_audit_data`)."""
    from privaudit.data import load_audit_data

    base_dir = Path(base_dir)
    d, m = data_config, data_config.membership
    resolve = lambda p: None if p is None else base_dir / p  # noqa: E731
    return load_audit_data(
        base_dir / d.path, label=d.label, id_column=d.id_column, features=d.features, membership_column=m.column,
        members_file=resolve(m.members), nonmembers_file=resolve(m.nonmembers), population_file=resolve(m.population),
        classes=d.classes, require_features=require_features, person_column=d.person_column,
    )


def load_inputs(config, base_dir: str | Path = ".", *, target_names: Sequence[str] | None = None, groups: bool = True) -> AuditInputs:
    """Load the data, the targets (all, or ``target_names``), their reference plans and (``groups``) group labels.

    ``config`` is a validated :class:`~privaudit.config.AuditConfig`. Data
    without feature columns is allowed when no chosen target reads features (``reads_features``: precomputed outputs).
    """
    from privaudit.reference.plan import plans_from_config
    from privaudit.targets import load_target

    base_dir = Path(base_dir)
    specs = [t for t in config.targets if target_names is None or t.name in target_names]
    data = load_data(config.data, base_dir, require_features=any(t.reads_features for t in specs))
    targets = [load_target(t, base_dir, trust_code=config.trust_code) for t in specs]
    chosen = config if len(specs) == len(config.targets) else config.model_copy(update={"targets": specs})
    plans = plans_from_config(chosen, base_dir, data=data)
    labels = None
    if groups and config.groups:
        from privaudit.metrics.groups import labels_from_specs

        labels = labels_from_specs([g.model_dump() for g in config.groups], data, read_table=lambda: group_table(base_dir / config.data.path))
    return AuditInputs(data, targets, plans, labels)


def group_table(path: Path):
    """The data table a ``groups`` column is read from; an image or array source has none (one line saying what works)."""
    from privaudit.data import read_table
    from privaudit.image_files import is_image_source

    if is_image_source(path):
        raise DataError(f"{path}: groups by column need a table (CSV or Parquet), and an image or array source has only pixels; "
                        "group by label (by: label), class_frequency or outlierness instead")
    return read_table(path)


def check_membership_randomized(is_member, source: str = "<memory>") -> None:
    """Refuse a declared coin-flip membership whose member count is implausible for fair coins.

    Raises :class:`DataError` when a two-sided binomial test of
    n_members ~ Binomial(n_audited, 1/2) gives p < ``RANDOMIZED_SPLIT_MIN_P``
    (e.g. 1,000 members among 11,000 audited records): the one-run bound
    assumes every audited record was included with probability 1/2.
    """
    from scipy.stats import binomtest

    is_member = np.asarray(is_member, dtype=bool)
    n_members, n = int(is_member.sum()), int(is_member.size)
    p_value = binomtest(n_members, n, 0.5).pvalue
    if p_value < RANDOMIZED_SPLIT_MIN_P:
        raise DataError(
            f"{source}: membership is declared randomized (membership.randomized / membership_randomized), but {n_members:,} "
            f"members among {n:,} audited records is not what fair coin flips give (p = {p_value:.1e}); the one-run ε bound "
            "needs each audited record included with probability 1/2: set randomized: false, or audit the coin-flipped records only"
        )
