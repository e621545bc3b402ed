"""Rates and time left, from work that moves: an estimator driven by a (replaceable) clock."""

from __future__ import annotations

import math
import time
from typing import Callable

__all__ = ["RateEstimator", "format_seconds", "format_count", "format_rate"]


def format_seconds(seconds: float) -> str:
    """``'42 s'``, ``'3 min 05 s'`` or ``'1 h 02 min'`` for a non-negative duration in seconds."""
    seconds = max(0.0, float(seconds))
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def format_count(value: float) -> str:
    """A count with thousands separators; fractional work units keep one decimal, rounded down (15.97 of 16 reads 15.9, not 16.0)."""
    return f"{value:,.0f}" if float(value).is_integer() else f"{math.floor(float(value) * 10) / 10:,.1f}"


def format_rate(rate: float) -> str:
    """Three significant digits below 100 (``'0.0412'``, ``'3.1'``), whole numbers with separators above (``'1,204'``)."""
    return f"{rate:,.0f}" if rate >= 100 else f"{rate:.3g}"


class RateEstimator:
    """Rate and time left of a counted task, from the work done in this run.

    Work already done when the estimator starts (``done``: models found in a
    store, a resumed run) does not count towards the rate. The rate is an
    average, in units per second, not the latest step's, so a task whose steps
    arrive in bursts does not swing its ETA; the time left is ``(total − done) / rate``.
    It is measured

    * from the first step that moved, when that step was a small part of the
      work (at most :attr:`FINE` of it: an epoch, a batch): the time before it
      was start-up (starting workers, encoding data, a first compilation), which
      is paid once and would otherwise inflate the ETA for the rest of the run;
    * else from the start (coarse steps, e.g. whole models: the first step's
      time is mostly its own work, and concurrent workers finish together).

    Parameters
    ----------
    total : float
        Units of work in the task (> 0 for a time left; 0 or less: unknown).
    done : float
        Units already done at the start (excluded from the rate).
    clock : callable
        Seconds, monotonic (default :func:`time.monotonic`); tests pass a fake one.

    Example
    -------
    >>> now = [0.0]
    >>> eta = RateEstimator(100, done=20, clock=lambda: now[0])
    >>> now[0] = 10.0; eta.update(40)
    >>> eta.rate, eta.seconds_left
    (2.0, 30.0)
    """

    #: largest first step, as a fraction of the work left at the start, after which the rate is measured from that step
    FINE = 0.05

    def __init__(self, total: float, done: float = 0.0, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.started = clock()
        self.total = float(total)
        self.baseline = float(done)
        self.done = float(done)
        self.first: tuple[float, float] | None = None  # (time, done) after the first step, if it was fine

    def update(self, done: float, total: float | None = None) -> None:
        """Record that ``done`` units (a running total, not an increment) are finished; ``total`` may change."""
        if total is not None:
            self.total = float(total)
        done = float(done)
        if done > self.done and self.done == self.baseline and self.total > self.baseline:
            if done - self.baseline <= self.FINE * (self.total - self.baseline):
                self.first = (self.clock(), done)
        self.done = max(self.done, done)

    @property
    def elapsed(self) -> float:
        """Seconds since the estimator started."""
        return max(0.0, self.clock() - self.started)

    @property
    def rate(self) -> float | None:
        """Units per second of the work done in this run (see the class docstring); None before it is known."""
        if self.first is not None:
            since, done_then = self.first
            if self.done > done_then:
                seconds = self.clock() - since
                return (self.done - done_then) / seconds if seconds > 0 else None
            return None  # one fine step so far: no rate yet
        fresh, elapsed = self.done - self.baseline, self.elapsed
        return fresh / elapsed if fresh > 0 and elapsed > 0 else None

    @property
    def seconds_left(self) -> float | None:
        """Seconds until ``total`` at the current rate; None while unknown, 0 when done."""
        if self.total <= 0:
            return None
        if self.done >= self.total:
            return 0.0
        rate = self.rate
        return None if rate is None else (self.total - self.done) / rate

    def parts(self, unit: str = "") -> tuple[str, str | None, str | None]:
        """``('240/1,000 epochs (24 %)', '3.1 epochs/s', 'about 4 min 05 s left')``; the rate and time left are None while unknown."""
        unit_text = f" {unit}" if unit else ""
        if self.total > 0:
            count = f"{format_count(self.done)}/{format_count(self.total)}{unit_text} ({math.floor(100 * self.done / self.total)} %)"  # floored: 100 % only when done
        else:
            count = f"{format_count(self.done)}{unit_text}"
        rate = self.rate
        left = self.seconds_left
        return (count, None if rate is None else f"{format_rate(rate)} {unit or 'units'}/s",
                f"about {format_seconds(left)} left" if left is not None and self.done < self.total else None)

    def describe(self, unit: str = "") -> str:
        """``'240/1,000 epochs (24 %), 3.1 epochs/s, about 4 min 05 s left'`` (the parts known so far)."""
        return ", ".join(part for part in self.parts(unit) if part)
