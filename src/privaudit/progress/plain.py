"""Progress as plain text, one line per step: for a log file, ``make demo | tee``, CI — and the silent reporter.

A reporter is what every ``progress=`` parameter of privaudit accepts: callable
as ``say(message)`` (one status line), and with
``start_task(description, total, unit)``, a context manager yielding
``advance(n=1, note=None)`` for counted steps (:func:`privaudit.progress.track`
finds it). :class:`PlainReporter` writes whole lines and never wraps them, so
a 200-character message is one line of the log; a counted task writes a line
when it starts, at most one every ``interval`` seconds while it runs (count,
rate and time left), and one when it ends (with the elapsed time).
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import Callable, Iterator, Protocol, TextIO

from privaudit.progress.eta import RateEstimator, format_count, format_seconds

__all__ = ["Advance", "LINE_PREFIX", "PlainReporter", "SilentReporter", "no_advance", "one_line", "task_summary"]

#: every progress line starts with this (tests and log readers tell progress from errors by it)
LINE_PREFIX = "· "


class Advance(Protocol):
    """``advance(n=1, note=None)``: ``n`` more units of the task are done; ``note`` (e.g. ``'loss 0.41'``) is shown beside the count."""

    def __call__(self, n: float = 1, *, note: str | None = None) -> None: ...


def one_line(message: object) -> str:
    """``message`` as one line: line breaks and tabs become spaces."""
    return " ".join(str(message).replace("\t", " ").splitlines())


def task_summary(description: str, estimator: RateEstimator, unit: str, *, failed: bool = False) -> str:
    """The closing line of a counted task: ``'training x: 200 epochs in 1 min 35 s'``, or where it stopped."""
    unit_text = f" {unit}" if unit else ""
    elapsed = format_seconds(estimator.elapsed)
    if failed:
        return f"{description}: stopped at {format_count(estimator.done)}/{format_count(estimator.total)}{unit_text} after {elapsed}"
    if estimator.total > 0 and estimator.done < estimator.total:  # ended early (e.g. early stopping): say so
        return f"{description}: done after {format_count(estimator.done)} of {format_count(estimator.total)}{unit_text} in {elapsed}"
    return f"{description}: {format_count(estimator.done)}{unit_text} in {elapsed}"


class SilentReporter:
    """A reporter that shows nothing (``--quiet``, ``--json``)."""

    def __call__(self, message: str) -> None:
        return None

    @contextmanager
    def start_task(self, description: str, total: float, unit: str = "", *, done: float = 0) -> Iterator[Advance]:
        yield no_advance

    def close(self) -> None:
        return None


def no_advance(n: float = 1, *, note: str | None = None) -> None:
    """The ``advance`` of a step nobody watches: does nothing."""
    return None


class PlainReporter:
    """Progress as whole lines on a text stream (default: ``sys.stderr`` at the time of writing).

    Parameters
    ----------
    stream : text stream, optional
        Where lines go; None means the current ``sys.stderr``.
    interval : float
        Least seconds between two lines of one running task (start and end lines are always written).
    clock : callable
        Monotonic seconds (tests pass a fake one).
    """

    def __init__(self, stream: TextIO | None = None, *, interval: float = 15.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream
        self.interval = float(interval)
        self.clock = clock

    def _write(self, text: str) -> None:
        stream = self.stream if self.stream is not None else sys.stderr
        stream.write(LINE_PREFIX + one_line(text) + "\n")
        stream.flush()

    def __call__(self, message: str) -> None:
        self._write(message)

    @contextmanager
    def start_task(self, description: str, total: float, unit: str = "", *, done: float = 0) -> Iterator[Advance]:
        """A counted step of ``total`` units (``done`` of them already finished, e.g. found in a store: not in the rate)."""
        description = one_line(description)
        estimator = RateEstimator(total, done, clock=self.clock)
        self._write(f"{description}: {estimator.describe(unit)}")
        last = [estimator.started]

        def advance(n: float = 1, *, note: str | None = None) -> None:
            estimator.update(estimator.done + n)
            now = self.clock()
            if now - last[0] >= self.interval and estimator.done < estimator.total:
                last[0] = now
                self._write(f"{description}: {estimator.describe(unit)}" + (f" — {note}" if note else ""))

        try:
            yield advance
        except GeneratorExit:  # never exited, now garbage-collected (e.g. at shutdown after an error): nothing to say
            raise
        except BaseException:
            self._write(task_summary(description, estimator, unit, failed=True))
            raise
        self._write(task_summary(description, estimator, unit))

    def close(self) -> None:
        return None
