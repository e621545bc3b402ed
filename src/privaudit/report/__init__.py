"""Report stage: render an :class:`~privaudit.pipeline.AuditResult`; compute nothing new.

* ``report.json`` — machine-readable figures (:func:`report_dict`), schema in ``docs/report-schema.md``;
* ``scores.csv`` — one row per audited record with every attack's score (higher = more likely member);
* ``report.html`` — one self-contained page for a person (:func:`render_html`);
* ``claims.md`` — what each number means and assumes (``docs/claims.md``), linked from the page;
* ``canaries.csv`` — a text audit's canaries, one row each (only when canaries were audited);
* :func:`print_summary` — the same in the terminal.

Example, with ``result`` from :func:`privaudit.audit`::

    paths = write_report(result, "privaudit-report")
    sorted(paths)  # ['claims', 'html', 'json', 'scores']
"""

from __future__ import annotations

from pathlib import Path

from privaudit.pipeline import AuditResult
from privaudit.report.html import CLAIMS_FILE, render_html
from privaudit.output_folder import OutputFolder
from privaudit.report.json_report import SCHEMA_VERSION, json_bytes, report_dict, scores_csv_bytes, scores_table
from privaudit.report.terminal import print_summary
from privaudit.report.text_section import CANARIES_FILE, canaries_csv_bytes
from privaudit.report.verdict import verdict

__all__ = ["SCHEMA_VERSION", "CLAIMS_FILE", "CANARIES_FILE", "REPORT_FILES", "claims_text", "write_report", "report_dict", "render_html", "print_summary", "verdict", "scores_table"]


#: the files :func:`write_report` writes into its folder
REPORT_FILES = ("report.json", "scores.csv", "report.html", CLAIMS_FILE)


def claims_text() -> str:
    """The text of ``docs/claims.md`` as shipped with this version of privaudit."""
    from importlib.resources import files

    return files("privaudit.report").joinpath("templates", CLAIMS_FILE).read_text(encoding="utf-8")


def write_report(result: AuditResult, out_dir: str | Path | OutputFolder, *, show_records: bool = False, force: bool = False) -> dict[str, Path]:
    """Write ``report.json``, ``scores.csv``, ``report.html`` and ``claims.md`` into ``out_dir`` (created if needed), all or nothing.

    All three are rendered first and then swapped in together with a
    ``manifest.json`` (:class:`~privaudit.output_folder.OutputFolder`): if
    rendering fails, the folder keeps the previous report untouched.

    Parameters
    ----------
    result : AuditResult
    out_dir : str, Path or OutputFolder
        The report folder, or an :class:`~privaudit.output_folder.OutputFolder`
        the caller opened (and locked) before the audit ran.
    show_records : bool
        List the most exposed record ids in the HTML page too (off by
        default; ``scores.csv`` always holds every record id and score).
    force : bool
        Write into a folder privaudit did not create (only for a path).

    Returns
    -------
    dict[str, Path]
        ``{"json": ..., "scores": ..., "html": ..., "claims": ...}``, and ``"canaries"`` for a text audit with canaries.

    Raises
    ------
    OutputError
        The folder is not privaudit's (and not ``force``), is locked by another run, or cannot be written.
    """
    if not isinstance(out_dir, OutputFolder):
        with OutputFolder(out_dir, command="report", names=REPORT_FILES, force=force) as folder:
            return write_report(result, folder, show_records=show_records)
    folder = out_dir
    folder.claim(*REPORT_FILES)
    paths = {
        "json": folder.write_bytes("report.json", json_bytes(result)),
        "scores": folder.write_bytes("scores.csv", scores_csv_bytes(result)),
        "html": folder.write_text("report.html", render_html(result, show_records=show_records)),
        "claims": folder.write_text(CLAIMS_FILE, claims_text()),
    }
    canaries = canaries_csv_bytes(result)  # a text audit with canaries only
    if canaries is not None:
        folder.claim(CANARIES_FILE)
        paths["canaries"] = folder.write_bytes(CANARIES_FILE, canaries)
    folder.commit(remove=[] if canaries is not None else [CANARIES_FILE])  # an earlier run's canaries would not belong
    return paths
