"""Progress that tells the truth: bars on a terminal, whole lines in a log, rates and ETAs from work that moves.

Every entry point (audit, demo, check, sweep, text audit) takes ``progress=``:
a callable ``say(message)``. :func:`open_reporter` gives the one the CLI
uses — a :class:`RichReporter` on a terminal (bars with count, rate and time
left, and one status line per step), a :class:`PlainReporter` elsewhere (one
line per step, never wrapped; counted tasks write a line at the start, at most
every 15 s while running and at the end), or a :class:`SilentReporter`.
Library code counts its steps with :func:`track`, which works with any of
these and with a plain callable or None.

Example
-------
>>> import io
>>> out = io.StringIO()
>>> say = PlainReporter(out)
>>> say("loading data")
>>> with track(say, "querying target", 3, "records") as advance:
...     advance(3)
>>> print(out.getvalue().splitlines()[0])
· loading data
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

from privaudit.progress.bars import RichReporter  # rich itself is imported when a RichReporter is made
from privaudit.progress.eta import RateEstimator, format_seconds
from privaudit.progress.plain import LINE_PREFIX, Advance, PlainReporter, SilentReporter
from privaudit.progress.reference import ReferenceTrainingProgress, reference_training_progress
from privaudit.progress.steps import prefixed, track

__all__ = [
    "Advance", "LINE_PREFIX", "PlainReporter", "RateEstimator", "ReferenceTrainingProgress", "RichReporter", "SilentReporter",
    "format_seconds", "open_reporter", "prefixed", "reference_training_progress", "track",
]


@contextmanager
def open_reporter(*, quiet: bool = False, console=None) -> Iterator[Callable[[str], None]]:
    """The reporter for a command: silent with ``quiet``; bars when ``console`` (default: stderr) is a terminal; else plain lines on stderr."""
    if quiet:
        yield SilentReporter()
        return
    if console is None:
        from rich.console import Console

        console = Console(stderr=True)
    if not console.is_terminal:
        yield PlainReporter(None if console.stderr else console.file)  # None: sys.stderr when each line is written
        return
    reporter = RichReporter(console)
    try:
        yield reporter
    finally:
        reporter.close()
