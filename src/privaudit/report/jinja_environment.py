"""The one Jinja environment every HTML page privaudit writes is rendered with (audit, sweep and text reports).

Templates live in ``report/templates/``; the environment autoescapes, fails on
undefined names and knows the number filters of :mod:`privaudit.report.formatting`.
"""

from __future__ import annotations

from pathlib import Path

from privaudit.report import formatting

__all__ = ["TEMPLATES_DIR", "template_environment", "breakable"]

#: The folder holding the ``*.j2`` templates.
TEMPLATES_DIR = Path(__file__).parent / "templates"


def template_environment():
    """A fresh ``jinja2.Environment`` over :data:`TEMPLATES_DIR` (autoescaped, strict undefined, privaudit's filters)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        percent=formatting.percent,
        fpr_label=formatting.fpr_label,
        count=formatting.count,
        percent_range=lambda ci: formatting.percent_range(*ci),
        breakable=breakable,
    )
    return env


def breakable(name):
    """``name`` escaped (a ``markupsafe.Markup``), with line-break opportunities (``<wbr>``) before ``[`` and after ``,``: a long attack name wraps at its parts.

    >>> str(breakable("rmia[offline,confidence]"))
    'rmia<wbr>[offline,<wbr>confidence]'
    """
    from markupsafe import Markup, escape

    return Markup(str(escape(str(name))).replace("[", "<wbr>[").replace(",", ",<wbr>"))
