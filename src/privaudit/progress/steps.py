"""Counted steps for any ``progress=`` value: a reporter with bars, a plain callable, or None."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

from privaudit.progress.plain import Advance, no_advance

__all__ = ["track", "prefixed"]


@contextmanager
def track(progress: Callable[[str], None] | None, description: str, total: float, unit: str = "", *, done: float = 0) -> Iterator[Advance]:
    """A counted step: ``with track(progress, "querying target", n, "records") as advance: ... advance(k)``.

    ``progress`` is the entry point's progress callable (``say(message)``), or
    None. A reporter with ``start_task`` (:class:`~privaudit.progress.RichReporter`,
    :class:`~privaudit.progress.PlainReporter`) shows a bar or counted lines with
    the rate and time left; a plain callable gets one line when the step starts.
    ``done`` units are finished before the step starts (found in a store) and do
    not count towards the rate. ``advance(n=1, note=None)`` accepts and ignores
    its arguments where nothing is shown.
    """
    start_task = getattr(progress, "start_task", None)
    if callable(start_task):
        with start_task(description, total, unit, **({"done": done} if done else {})) as advance:  # done= only where needed
            yield advance
        return
    if progress is not None:
        progress(f"{description} ({total:,} {unit})" if unit and total > 0 else description)
    yield no_advance


class _Prefixed:
    def __init__(self, progress: Callable[[str], None], prefix: str) -> None:
        self.inner, self.prefix = progress, prefix

    def __call__(self, message: str) -> None:
        self.inner(self.prefix + message)

    @contextmanager
    def start_task(self, description: str, total: float, unit: str = "", *, done: float = 0) -> Iterator[Advance]:
        with track(self.inner, self.prefix + description, total, unit, done=done) as advance:
            yield advance


def prefixed(progress: Callable[[str], None] | None, prefix: str):
    """``progress`` with ``prefix`` before every message and task description (e.g. ``'[3/12] '`` in a sweep); keeps its bars.

    None stays None.
    """
    return None if progress is None else _Prefixed(progress, prefix)
