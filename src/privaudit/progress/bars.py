"""Progress on a terminal: rich bars (description, bar, count, rate, time left) and one status line per step.

rich is imported when a :class:`RichReporter` is made, never by ``import privaudit``.
The count, rate and time left come from the same :class:`~privaudit.progress.eta.RateEstimator`
as the plain reporter's lines, so both say the same thing.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Callable, Iterator

from privaudit.progress.eta import RateEstimator
from privaudit.progress.plain import LINE_PREFIX, Advance, one_line, task_summary

__all__ = ["RichReporter"]


def _columns():
    from rich.progress import BarColumn, ProgressColumn, SpinnerColumn, TextColumn
    from rich.table import Column
    from rich.text import Text

    class CountColumn(ProgressColumn):
        """``40/200 epochs (20 %) · about 52 s left · 3.1 epochs/s · loss 0.41`` of a counted task; nothing for the status task."""

        def render(self, task) -> Text:
            estimator: RateEstimator | None = task.fields.get("estimator")
            if estimator is None:
                return Text("")
            count, rate, left = estimator.parts(task.fields.get("unit", ""))
            text = " · ".join(part for part in (count, left, rate, task.fields.get("note")) if part)
            return Text(text, style="dim")

    return [
        SpinnerColumn(),
        TextColumn("{task.description}", markup=False, table_column=Column(no_wrap=True, overflow="ellipsis", max_width=48)),
        BarColumn(bar_width=20),
        CountColumn(table_column=Column(no_wrap=True, overflow="ellipsis")),
    ]


class RichReporter:
    """Bars and status lines on a rich console (a terminal).

    ``say(message)`` prints the message as a line above the display and, while
    no bar runs, shows it beside a spinner as the current step; ``start_task``
    adds a bar that is replaced by one summary line when the task ends. Use as a context manager
    (or call :meth:`close`) to stop the live display.

    Parameters
    ----------
    console : rich.console.Console
        Where to draw (e.g. ``Console(stderr=True)``).
    clock : callable
        Monotonic seconds for rates and time left.
    """

    def __init__(self, console, *, clock: Callable[[], float] = time.monotonic) -> None:
        from rich.progress import Progress

        self.console = console
        self.clock = clock
        self.progress = Progress(*_columns(), console=console, transient=True, refresh_per_second=4, get_time=clock,
                                 redirect_stdout=False)  # stdout stays stdout (--json, reports); stray stderr lines go above the bars
        self.status = self.progress.add_task("", total=None, visible=False)  # the current step, shown while no bar runs
        self.counted: set = set()
        self.progress.start()

    def _line(self, text: str) -> None:
        from rich.text import Text

        self.progress.console.print(Text(LINE_PREFIX, style="dim") + Text(one_line(text)), highlight=False)

    def __call__(self, message: str) -> None:
        self._line(message)
        self.progress.update(self.status, description=one_line(message), visible=not self.counted)

    @contextmanager
    def start_task(self, description: str, total: float, unit: str = "", *, done: float = 0) -> Iterator[Advance]:
        """A bar of ``total`` units (``done`` already finished, e.g. found in a store: not in the rate)."""
        description = one_line(description)
        estimator = RateEstimator(total, done, clock=self.clock)
        task = self.progress.add_task(description, total=max(float(total), 0.0) or None, completed=done, estimator=estimator, unit=unit, note="")
        self.counted.add(task)
        self.progress.update(self.status, visible=False)
        self.progress.refresh()

        def advance(n: float = 1, *, note: str | None = None) -> None:
            estimator.update(estimator.done + n)
            self.progress.update(task, completed=estimator.done, **({"note": one_line(note)} if note else {}))

        try:
            yield advance
        except GeneratorExit:  # never exited, now garbage-collected (e.g. at shutdown after an error): nothing to say
            raise
        except BaseException:
            self._finish(task, task_summary(description, estimator, unit, failed=True))
            raise
        self._finish(task, task_summary(description, estimator, unit))

    def _finish(self, task, summary: str) -> None:
        self.counted.discard(task)
        self.progress.remove_task(task)
        self.progress.update(self.status, visible=False)  # the step before the bar is stale now: hidden until the next says something
        self.progress.refresh()  # drop the finished bar before its summary line is printed above the display
        self._line(summary)

    def close(self) -> None:
        self.progress.stop()

    def __enter__(self) -> "RichReporter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
