"""Progress messages shared by the entry points (audit, check): one line per step, with an honest ETA."""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Callable, Iterator

__all__ = ["reference_training_progress", "track"]


@contextmanager
def track(progress: Callable[[str], None] | None, description: str, total: int, unit: str = "") -> Iterator[Callable[[int], None]]:
    """A counted step: ``with track(progress, "querying target", n, "records") as advance: ... advance(k)``.

    ``progress`` is the entry point's progress callable (``say(message)``), or
    None. A progress object that draws bars (:mod:`privaudit.progress`'s rich
    reporter) shows a bar; a plain callable gets one line when the step starts.
    """
    start_task = getattr(progress, "start_task", None)
    if callable(start_task):
        with start_task(description, total, unit) as advance:
            yield advance
        return
    if progress is not None:
        progress(f"{description} ({total:,} {unit})" if unit else description)
    yield lambda n=1: None


def reference_training_progress(say: Callable[[str], None], target: str) -> Callable[[int, int, str], None]:
    """Adapt the reference engine's ``(done, total, message)`` callback to one-line messages with an ETA.

    Models found in the store (done before the first call) do not count towards the rate.
    """
    started = time.perf_counter()
    first_done: list[int] = []

    def report(done: int, total: int, message: str) -> None:
        if not first_done:
            first_done.append(done)
        fresh = done - first_done[0]
        elapsed = time.perf_counter() - started
        eta = f", about {elapsed / fresh * (total - done):.0f} s left" if fresh > 0 and done < total else ""
        say(f"{target}: reference models {done}/{total}{eta} ({message})")

    return report
