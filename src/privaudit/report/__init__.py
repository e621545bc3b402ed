"""Report stage: render an :class:`~privaudit.audit.AuditResult`; compute nothing new.

* ``report.json`` — machine-readable figures (:func:`report_dict`), schema in ``docs/report-schema.md``;
* ``scores.csv`` — one row per audited record with every attack's score (higher = more likely member);
* ``report.html`` — one self-contained page for a person (:func:`render_html`);
* :func:`print_summary` — the same in the terminal.

Example, with ``result`` from :func:`privaudit.audit`::

    paths = write_report(result, "privaudit-report")
    sorted(paths)  # ['html', 'json', 'scores']
"""

from __future__ import annotations

from pathlib import Path

from privaudit.audit import AuditResult
from privaudit.report.html import render_html
from privaudit.report.json_report import SCHEMA_VERSION, report_dict, scores_table, write_json, write_scores_csv
from privaudit.report.terminal import print_summary
from privaudit.report.verdict import verdict

__all__ = ["SCHEMA_VERSION", "write_report", "report_dict", "render_html", "print_summary", "verdict", "scores_table"]


def write_report(result: AuditResult, out_dir: str | Path, *, show_records: bool = False) -> dict[str, Path]:
    """Write ``report.json``, ``scores.csv`` and ``report.html`` into ``out_dir`` (created if needed).

    Parameters
    ----------
    result : AuditResult
    out_dir : str or Path
    show_records : bool
        List the most exposed record ids in the HTML page too (off by
        default; ``scores.csv`` always holds every record id and score).

    Returns
    -------
    dict[str, Path]
        ``{"json": ..., "scores": ..., "html": ...}``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": write_json(result, out_dir / "report.json"),
        "scores": write_scores_csv(result, out_dir / "scores.csv"),
    }
    html_path = out_dir / "report.html"
    html_path.write_text(render_html(result, show_records=show_records), encoding="utf-8")
    paths["html"] = html_path
    return paths
