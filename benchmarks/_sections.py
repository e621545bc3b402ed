"""Shared by the benchmark scripts: write one marked section of BENCHMARKS.md, leaving the others alone."""

from __future__ import annotations

from pathlib import Path


def replace_section(path: Path, section: str, begin: str, end: str) -> None:
    """Replace the text from ``begin`` to ``end`` in ``path`` with ``section`` (which carries both markers), or append it."""
    path = Path(path)
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        tail = rest.split(end, 1)[1]
        text = head + section + tail
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + section + "\n"
    path.write_text(text, encoding="utf-8")


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
