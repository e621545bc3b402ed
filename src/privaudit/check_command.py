"""``privaudit check``: which check the options ask for, run through the one check each kind has.

The CLI's ``check`` command parses options; :func:`run_check_command` refuses
combinations that make no sense (one line each, naming the option and the
fix), then runs exactly one of:

* a **document check** (:func:`privaudit.pipeline.document_run.run_document_check`)
  for a language-model (``causal_lm``) config and ``--documents``;
* a **deletion check** (:func:`privaudit.deletion_check.cli_deletion_check`)
  with ``--before TARGET``;
* a **record or person check** (:func:`privaudit.record_check.run_check`)
  otherwise (``--mode offline|online``, ``--person-column``).

It returns the result with the functions that turn it into ``check.json`` and
print it, so the CLI writes and shows every kind the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from privaudit.exceptions import ConfigError

__all__ = ["run_check_command"]


def _refuse(config: Path, *, text: bool, documents_file, author_column, records_file, record_pairs, null: str, before, mode: str) -> None:
    rules = (
        (documents_file and not text, f"--documents: {config} audits a tabular target; documents are checked against a language-model (causal_lm) config"),
        (text and not documents_file, f"{config}: a language-model (causal_lm) config checks documents: give --documents FILE (.jsonl or .txt)"),
        (author_column and not documents_file, "--author-column: names the author field of --documents; give --documents FILE too"),
        (documents_file and (records_file or record_pairs), "--documents: check documents or records (--records/--record), not both"),
        (documents_file and null != "real", f"--null {null}: documents are tested against held-out documents (the real null) only"),
        (documents_file and before is not None, "--before: deletion checks compare tabular targets; documents are checked against one language model"),
        (documents_file and mode != "offline", "--mode online: documents are scored with the config's language models as they are; leave out --mode"),
        (before is not None and mode == "online", "--before compares the target before and after deletion with the same offline models; leave out --mode online"),
    )
    for wrong, message in rules:
        if wrong:
            raise ConfigError(message)


def run_check_command(parsed, config: Path, base_dir: Path, *, records_file=None, record_pairs=(), target_name=None, documents_file=None,
                      author_column=None, attack=None, null: str = "real", generator: str = "kernel", alpha: float = 0.05,
                      n_fabricated: int = 10_000, person_column=None, before=None, mode: str = "offline",
                      progress: Callable[[str], None] | None = None):
    """Run the check the options name; returns ``(result, to_dict, show)`` (``to_dict(result)`` → JSON-ready dict, ``show(result, console=)``)."""
    from privaudit.text.target_config import is_text_audit

    _refuse(config, text=is_text_audit(parsed), documents_file=documents_file, author_column=author_column, records_file=records_file,
            record_pairs=record_pairs, null=null, before=before, mode=mode)
    if documents_file is not None:
        from privaudit.pipeline.document_run import run_document_check

        if author_column and person_column and author_column != person_column:
            raise ConfigError(f"--author-column {author_column} and --person-column {person_column} both name the documents' author "
                              "field; give one of them")
        from privaudit.report.document_report import document_check_to_dict, print_document_check

        result = run_document_check(parsed, base_dir, documents_file=documents_file, author_column=author_column or person_column,
                                    attack=attack, alpha=alpha, progress=progress)
        return result, document_check_to_dict, print_document_check
    if before is not None:
        from privaudit.deletion_check import cli_deletion_check
        from privaudit.report.deletion_report import deletion_result_to_dict, print_deletion

        result = cli_deletion_check(parsed, base_dir, records_file, record_pairs, target_name, before, person_column, attack, null, alpha, progress)
        return result, deletion_result_to_dict, print_deletion
    from privaudit.record_check import run_check
    from privaudit.report.check_report import check_result_to_dict, print_check

    result = run_check(parsed, base_dir, records_file=records_file, record_pairs=record_pairs, target_name=target_name, attack=attack,
                       null=null, alpha=alpha, n_fabricated=n_fabricated, generator=generator, progress=progress,
                       person_column=person_column, mode=mode)
    return result, check_result_to_dict, print_check
