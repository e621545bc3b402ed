"""Harness for the bad-input battery (``tests/test_hostile_*.py``).

Every hostile or broken input must end in one line ``privaudit: error: ...`` on
stderr that names the file, field or option and the fix, a non-zero exit code,
no traceback, and no earlier output lost. :func:`run_cli` runs the command in
process (fast; a traceback would surface as an uncaught exception, which the
harness turns into a failure); :func:`run_cli_subprocess` runs it as a user
would, for cases that need a real process (signals, hangs, memory).

Typical use::

    outcome = run_cli(["audit", str(config)])
    assert_one_line_error(outcome, code=2, names=["config.yaml", "factory"])
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import subprocess
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

__all__ = ["CliOutcome", "run_cli", "run_cli_subprocess", "assert_one_line_error", "snapshot", "assert_unchanged"]


@dataclass(frozen=True)
class CliOutcome:
    """What one ``privaudit`` invocation did: exit code, stdout, stderr, and an escaped exception's traceback."""

    code: int
    out: str
    err: str
    escaped: str | None = None  # traceback text of an exception that escaped main(); None when none did

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


def run_cli(argv: Sequence[str], *, cwd: Path | None = None, env: dict | None = None) -> CliOutcome:
    """Run ``privaudit ARGV`` in this process through :func:`privaudit.cli.main`; never raises."""
    from privaudit.cli import main

    out, err = io.StringIO(), io.StringIO()
    old_cwd = Path.cwd()
    old_env = dict(os.environ)
    code, escaped = 0, None
    try:
        if cwd is not None:
            os.chdir(cwd)
        if env:
            os.environ.update(env)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main([str(a) for a in argv])
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            except BaseException:  # noqa: BLE001 - a traceback is exactly what the battery looks for
                escaped = traceback.format_exc()
                code = 1
    finally:
        os.chdir(old_cwd)
        os.environ.clear()
        os.environ.update(old_env)
    return CliOutcome(code, out.getvalue(), err.getvalue(), escaped)


def run_cli_subprocess(argv: Sequence[str], *, cwd: Path | None = None, env: dict | None = None, timeout: float = 120.0,
                       input: str | None = None) -> CliOutcome:
    """Run ``python -m privaudit.cli ARGV`` in a child process, as a user would."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    full_env.setdefault("PYTHONUNBUFFERED", "1")
    src = str(Path(__file__).resolve().parents[1] / "src")
    full_env["PYTHONPATH"] = src + (os.pathsep + full_env["PYTHONPATH"] if full_env.get("PYTHONPATH") else "")
    done = subprocess.run([sys.executable, "-m", "privaudit.cli", *map(str, argv)], cwd=cwd, env=full_env, capture_output=True,
                          text=True, timeout=timeout, input=input)
    escaped = done.stderr if "Traceback (most recent call last)" in done.stderr else None
    return CliOutcome(done.returncode, done.stdout, done.stderr, escaped)


def assert_one_line_error(outcome: CliOutcome, *, code: int | Iterable[int] = 2, names: Iterable[str] = ()) -> str:
    """Assert a clean refusal: the exit ``code``, no traceback, exactly one ``privaudit: error:`` line naming ``names``.

    Returns the error line. ``names`` are substrings (file, field, option, fix) the line must contain.
    """
    codes = {code} if isinstance(code, int) else set(code)
    assert outcome.escaped is None, f"an exception escaped:\n{outcome.escaped}"
    assert "Traceback (most recent call last)" not in outcome.err, f"traceback printed:\n{outcome.err}"
    assert outcome.code in codes, f"exit {outcome.code}, expected {sorted(codes)}; stderr:\n{outcome.err}\nstdout:\n{outcome.out[-2000:]}"
    errors = [line for line in outcome.error_lines if line.startswith("privaudit: error:")]
    assert len(errors) == 1, f"expected one 'privaudit: error:' line, got {len(errors)}:\n{outcome.err}"
    line = errors[0]
    for name in names:
        assert name in line, f"error line does not name {name!r}: {line}"
    return line


def snapshot(folder: Path) -> dict[str, str]:
    """Content hash of every file under ``folder`` (relative path → sha256), to show nothing earlier was lost."""
    folder = Path(folder)
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def assert_unchanged(before: dict[str, str], folder: Path) -> None:
    """Every file recorded in ``before`` still exists under ``folder`` with the same content (new files are allowed)."""
    after = snapshot(folder)
    lost = [name for name in before if name not in after]
    changed = [name for name in before if name in after and after[name] != before[name]]
    assert not lost and not changed, f"earlier output lost: missing {lost}, changed {changed}"
