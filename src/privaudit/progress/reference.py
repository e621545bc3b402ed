"""Reference training shown as it moves: the engine's model counts and finished epochs on one bar, with an honest ETA."""

from __future__ import annotations

import time
from typing import Callable

from privaudit.progress.eta import RateEstimator, format_seconds
from privaudit.progress.steps import track

__all__ = ["ReferenceTrainingProgress", "reference_training_progress"]


class ReferenceTrainingProgress:
    """What :func:`~privaudit.reference.train_reference_models` reports, shown through an entry point's ``say``.

    The engine calls it as ``progress(done, total, message)`` (whole models:
    after its store check and after each model) and, because it has one,
    :meth:`work` with fractional models as epochs finish: a model of ``E``
    epochs counts ``e / (E + 1)`` after epoch ``e`` and 1 once it is stored.
    A batched ensemble of ``k`` models therefore moves ``k / (E + 1)`` models
    per epoch instead of standing still and then jumping by ``k``, and the
    time left is ``(total − done) / rate`` with the rate taken over the work
    done *in this run*: models found in the store are done at the start and
    never count towards it.

    With a reporter that draws bars (``say.start_task``) the work is one bar;
    with a plain callable each engine message is one line with the time left.
    """

    def __init__(self, say: Callable[[str], None], target: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.say, self.target, self.clock = say, target, clock
        self.estimator: RateEstimator | None = None
        self.bars = callable(getattr(say, "start_task", None))
        self.task = None
        self.advance = None

    def __call__(self, done: int, total: int, message: str) -> None:
        if self.advance is not None:
            self.advance(0, note=message)
            return
        eta = ""
        if self.estimator is not None:
            self.estimator.update(done)  # whole models: never more than the work reported, so only ever a catch-up
            left = self.estimator.seconds_left
            if left is not None and done < total:
                eta = f", about {format_seconds(left)} left"
        self.say(f"{self.target}: reference models {done}/{total}{eta} ({message})")

    def work(self, done: float, total: float) -> None:
        """``done`` of ``total`` models finished, counting finished epochs of models in training (a running total)."""
        if self.estimator is None:  # the first call: what is done now was found, not trained in this run
            self.estimator = RateEstimator(total, done, clock=self.clock)
            if self.bars and done < total:
                self.task = track(self.say, f"{self.target}: reference models", total, "models", done=done)
                self.advance = self.task.__enter__()
            return
        step = float(done) - self.estimator.done
        self.estimator.update(done, total)
        if self.advance is not None:
            if step > 0:
                self.advance(step)
            if self.estimator.done >= self.estimator.total:
                self.close()

    def close(self) -> None:
        """End the bar (its closing line says how long the models took); further messages are lines again."""
        if self.task is not None:
            task, self.task, self.advance = self.task, None, None
            task.__exit__(None, None, None)


def reference_training_progress(say: Callable[[str], None], target: str) -> ReferenceTrainingProgress:
    """Adapt the reference engine's ``(done, total, message)`` callback to ``say``: a bar, or lines with the time left.

    Models found in the store do not count towards the rate (see :class:`ReferenceTrainingProgress`).
    """
    return ReferenceTrainingProgress(say, target)
