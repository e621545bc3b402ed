"""``privaudit check CONFIG --documents FILE``: load a language-model config, score the documents, and test them.

:func:`run_document_check` reads the config's texts (members, and non-members
as the null of held-out documents), the documents file
(:func:`privaudit.text.data.read_documents`), loads the target and its
reference model (:func:`privaudit.text.target_config.load_causal_lm_targets`),
scores every text once through the pipeline's steps
(:func:`~privaudit.pipeline.collect.collect_text` then
:func:`~privaudit.pipeline.score.score_attacks`, as a text audit does) and
hands the scores to :func:`privaudit.pipeline.document_check.check_documents`.

The attack (:func:`choose_document_attack`): with a reference model in the
config, ``reference`` — the target's mean token loss minus the reference
model's (Carlini et al. 2021, §5.2), the text attack that calibrates each
document by how predictable it is *without* training on it, and the strongest
in the LLM demo's audit; without one, ``min_k_plus_plus`` (Zhang et al. 2024,
Min-K%++), which calibrates each token by the model's own vocabulary
distribution and beats plain loss in its paper's benchmarks. ``--attack``
names another text attack (a name the config's ``attacks`` list gives with
parameters uses those parameters).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from privaudit.exceptions import CapabilityError, ConfigError
from privaudit.pipeline.collect import collect_text
from privaudit.pipeline.document_check import DocumentCheck, check_documents
from privaudit.pipeline.score import score_attacks

__all__ = ["run_document_check", "choose_document_attack"]


def choose_document_attack(attack: str | None, config_attacks, *, has_reference: bool):
    """``(TextAttack, why)``: ``attack`` (a text attack name), else the default of the module docstring."""
    from privaudit.text.attacks import TEXT_ATTACKS, build_text_attack

    if attack is None:
        if has_reference:
            return build_text_attack("reference"), ("reference: the target's loss calibrated by the reference model's (Carlini et al. 2021), "
                                                    "the strongest text attack a config with a reference model supports")
        return build_text_attack("min_k_plus_plus"), ("min_k_plus_plus: the config has no reference model, and Min-K%++ (Zhang et al. 2024) "
                                                      "calibrates each token by the model's own vocabulary distribution, beating plain loss")
    if attack not in TEXT_ATTACKS.names():
        raise ConfigError(f"--attack: {attack!r} is not a text attack; use one of {', '.join(TEXT_ATTACKS.names())}")
    if attack == "reference" and not has_reference:
        raise CapabilityError("--attack reference: the config's target names no reference model; add targets.reference, or choose another attack")
    spec = next((a for a in (config_attacks or ()) if isinstance(a, dict) and a.get("name") == attack), attack)
    return build_text_attack(spec), f"{attack}: chosen with --attack"


def run_document_check(config, base_dir: str | Path, *, documents_file: str | Path, author_column: str | None = None, attack: str | None = None,
                       alpha: float = 0.05, progress: Callable[[str], None] | None = None) -> DocumentCheck:
    """Check the documents of ``documents_file`` against the language model of a validated text-audit config.

    Parameters
    ----------
    config : AuditConfig
        A config whose target is ``causal_lm`` (:mod:`privaudit.text.target_config`).
    base_dir : str or Path
        The config's folder (paths in it are relative to it).
    documents_file : str or Path
        ``.jsonl`` (text in the config's ``data.text_column``; optional ``id`` and author fields) or ``.txt`` (one per line).
    author_column : str, optional
        Field of the documents naming their author: adds the author-level test (null authors from ``data.person_column``).
    attack : str, optional
        A text attack name; default :func:`choose_document_attack`'s.
    alpha : float
        Significance level (false-discovery rate across documents or authors).
    """
    from privaudit.text.data import load_text_data, read_documents
    from privaudit.text.target_config import check_causal_lm_files, load_causal_lm_targets

    base_dir = Path(base_dir)
    d, m, spec = config.data, config.data.membership, config.targets[0]
    if author_column is not None and d.person_column is None:
        raise ConfigError("--author-column: the config names no data.person_column, so null authors cannot be real non-member authors "
                          "(random groups of documents are too narrow a null when one author's documents are alike); set "
                          "data.person_column to the data's author field")
    resolve = lambda p: None if p is None else base_dir / p  # noqa: E731
    documents = read_documents(documents_file, text_column=d.text_column or "text", author_column=author_column)
    data = load_text_data(base_dir / d.path, text_column=d.text_column or "text", id_column=d.id_column, membership_column=m.column,
                          members_file=resolve(m.members), nonmembers_file=resolve(m.nonmembers), person_column=d.person_column)
    chosen, why = choose_document_attack(attack, config.attacks, has_reference=spec.reference is not None)
    check_causal_lm_files(spec, base_dir)
    say = progress or (lambda message: None)
    say(f"loading language model {spec.name}" + (" and its reference" if spec.reference else ""))
    target, reference = load_causal_lm_targets(spec, base_dir)
    texts = list(documents.texts) + list(data.members) + list(data.nonmembers)
    collected = collect_text(target, texts, [chosen], reference=reference, progress=progress)
    scores = score_attacks(target.name, [chosen], collected, progress=progress)[0].scores
    n_checked, n_members = len(documents.texts), len(data.members)
    checked, member_scores, null_scores = np.split(np.asarray(scores, dtype=np.float64), [n_checked, n_checked + n_members])
    say(f"testing {n_checked} document(s) against {null_scores.size} held-out documents; blind baseline of that null")
    return check_documents(documents.texts, checked, data.nonmembers, null_scores, member_scores, alpha=alpha, checked_ids=documents.ids,
                           checked_authors=documents.authors, null_authors=data.nonmember_persons, member_authors=data.member_persons,
                           seed=config.seed, n_bootstrap=config.metrics.bootstrap, target=target.name, attack=chosen.name, attack_reason=why)
