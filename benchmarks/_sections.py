"""Shared by the benchmark scripts: write one marked section of BENCHMARKS.md, leaving the others alone."""

from __future__ import annotations

from pathlib import Path


def replace_section(path: Path, section: str, begin: str, end: str) -> None:
    """Replace the text from ``begin`` to ``end`` in ``path`` with ``section`` (which carries both markers), or append it."""
    path = Path(path)
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    check_section_markers(path, begin, end, text)
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        tail = rest.split(end, 1)[1]
        text = head + section + tail
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + section + "\n"
    path.write_text(text, encoding="utf-8")


def check_section_markers(path: Path, begin: str, end: str, text: str | None = None) -> None:
    """SystemExit (one line) when ``path`` holds one marker without the other, or either twice: writing would damage it.

    Call it before a long benchmark runs, so the user learns before the run, not after.
    """
    path = Path(path)
    if text is None:
        if path.exists() and not path.is_file():
            raise SystemExit(f"--write {path}: not a file; give the markdown file (BENCHMARKS.md) to write the section into")
        text = path.read_text(encoding="utf-8") if path.exists() else ""
    counts = (text.count(begin), text.count(end))
    if counts not in ((0, 0), (1, 1)) or (counts == (1, 1) and text.index(end) < text.index(begin)):
        raise SystemExit(f"--write {path}: holds the section markers {begin!r} ×{counts[0]} and {end!r} ×{counts[1]} (in that order or not); "
                         "restore one pair (begin before end) or remove both, so the section can be replaced without touching the rest")


def refuse_existing(path: Path | None, option: str, overwrite: bool) -> None:
    """SystemExit (one line) when ``path`` exists and ``overwrite`` was not asked for: never replace a user's file unasked."""
    if path is not None and Path(path).exists() and not overwrite:
        raise SystemExit(f"{option} {path}: exists; give a new path, or add --overwrite to replace it")


def cpu_line() -> str:
    """``- CPUs: N × model (arch, platform); load average at start: …`` for a benchmark section."""
    import os
    import platform

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    model = "unknown CPU"
    try:
        model = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"- CPUs: {os.cpu_count()} × {model} ({platform.machine()}, {platform.platform()}); load average at start: {load}"
